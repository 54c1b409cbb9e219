package config

import (
	"fmt"
	"time"

	"github.com/posagent/posagent/alipay"
)

// Warnings lists what in the configuration is allowed but may not do what
// the technician expects, one Problem per key, in the order of the file.
// Unlike the problems of a *Error, warnings do not stop the agent:
// `posagent config check` and `posagent doctor` show them and the agent logs
// them at start.
func (c *Config) Warnings() []Problem {
	var ws []Problem
	if c.Polling.CancelAfter > LongestSafeCancelAfter {
		ws = append(ws, c.warning("polling.cancel_after",
			"%s can reach past Alipay's cancel window (until 00:15 UTC+8 the day after a payment): payments accepted shortly before midnight UTC+8 get a shorter deadline, down to %s; use %s or less to have every payment polled this long",
			fmtDuration(c.Polling.CancelAfter), fmtDuration(LongestSafeCancelAfter), fmtDuration(LongestSafeCancelAfter)))
	}
	return sortProblems(ws)
}

// warning is a Problem about key, at its line when the file gave it.
func (c *Config) warning(key, format string, args ...any) Problem {
	return Problem{File: c.Path, Line: c.lines[key], Key: key, Msg: fmt.Sprintf(format, args...)}
}

// LongestSafeCancelAfter is the longest polling.cancel_after that the agent
// never shortens. It cuts a payment's deadline to fall 2 minutes before the
// end of Alipay's cancel window, which can be as near as
// alipay.ShortestCancelWindow after acceptance (docs/design.md, rule 9), so
// any longer cancel_after is cut short for payments accepted shortly before
// midnight UTC+8.
const LongestSafeCancelAfter = alipay.ShortestCancelWindow - 2*time.Minute
