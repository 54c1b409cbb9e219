package service

import (
	"bytes"
	"io"
	"strconv"

	"github.com/rs/zerolog"
)

// journalWriter writes zerolog's JSON lines to a systemd journal stream as
// text, each line prefixed with its syslog priority ("<4>" for a warning),
// so that journalctl shows errors and warnings as such and filters on them
// (journalctl -p warning). The journal stamps every line with its own time,
// so the text has none.
type journalWriter struct {
	w io.Writer
}

// journalPriority maps zerolog levels to syslog priorities (sd-daemon(3)).
var journalPriority = map[zerolog.Level]int{
	zerolog.TraceLevel: 7, // debug
	zerolog.DebugLevel: 7, // debug
	zerolog.InfoLevel:  6, // info
	zerolog.WarnLevel:  4, // warning
	zerolog.ErrorLevel: 3, // err
	zerolog.FatalLevel: 2, // crit
	zerolog.PanicLevel: 0, // emerg
}

// Write writes a line without a level as a notice (priority 5).
func (j journalWriter) Write(p []byte) (int, error) {
	return j.WriteLevel(zerolog.NoLevel, p)
}

// WriteLevel writes one line of level l in one write, so that concurrent
// lines cannot interleave in the stream.
func (j journalWriter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	prio, ok := journalPriority[l]
	if !ok {
		prio = 5
	}
	var line bytes.Buffer
	line.WriteString("<" + strconv.Itoa(prio) + ">")
	if err := writeUnstamped(&line, p); err != nil {
		return 0, err
	}
	if _, err := j.w.Write(line.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}
