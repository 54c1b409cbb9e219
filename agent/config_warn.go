package agent

import "fmt"

// Warnings lists what in the configuration is allowed but may not do what
// the technician expects, one Problem per key, in the order of the file.
// Unlike the problems of a *ConfigError, warnings do not stop the agent:
// `posagent config check` and `posagent doctor` show them and the agent logs
// them at start.
func (c *Config) Warnings() []Problem {
	var ws []Problem
	if c.Polling.CancelAfter > longestSafeCancelAfter {
		ws = append(ws, c.warning("polling.cancel_after",
			"%s can reach past Alipay's cancel window (until 00:15 UTC+8 the day after a payment): payments accepted shortly before midnight UTC+8 get a shorter deadline, down to %s; use %s or less to have every payment polled this long",
			fmtDuration(c.Polling.CancelAfter), fmtDuration(longestSafeCancelAfter), fmtDuration(longestSafeCancelAfter)))
	}
	return sortProblems(ws)
}

// warning is a Problem about key, at its line when the file gave it.
func (c *Config) warning(key, format string, args ...any) Problem {
	return Problem{File: c.Path, Line: c.lines[key], Key: key, Msg: fmt.Sprintf(format, args...)}
}
