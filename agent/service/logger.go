package service

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-colorable"
	"github.com/rs/zerolog"
)

// NewLogger returns a logger that writes events at level ("debug", "info",
// "warn" or "error") and above to w, each with a timestamp. With console set
// the events are written as coloured lines a person can read; otherwise as
// one JSON object per line, for journald, files and log collectors.
func NewLogger(w io.Writer, level string, console bool) (zerolog.Logger, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return zerolog.Nop(), err
	}
	if console {
		if f, ok := w.(*os.File); ok {
			w = colorable.NewColorable(f) // turns colour codes into console calls on Windows
		}
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.DateTime}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// parseLevel accepts exactly the levels the configuration file allows.
func parseLevel(level string) (zerolog.Level, error) {
	switch level {
	case "debug":
		return zerolog.DebugLevel, nil
	case "info":
		return zerolog.InfoLevel, nil
	case "warn":
		return zerolog.WarnLevel, nil
	case "error":
		return zerolog.ErrorLevel, nil
	}
	return zerolog.NoLevel, fmt.Errorf("log level %q is not known; use debug, info, warn or error", level)
}
