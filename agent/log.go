package agent

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mattn/go-colorable"
	"github.com/mattn/go-isatty"
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

// IsTerminal reports whether w is a terminal (including a Cygwin or MSYS
// terminal on Windows), where people rather than programs read the log.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// OpenLog returns the logger the [log] section asks for. With File set the
// log is appended to that file (its folder created if missing), and the
// returned Closer closes it; otherwise the log goes to stderr and the Closer
// does nothing. The console format is used when the destination is a
// terminal, JSON otherwise.
func OpenLog(cfg LogSection, stderr io.Writer) (zerolog.Logger, io.Closer, error) {
	var w io.Writer = stderr
	var closer io.Closer = nopCloser{}
	if cfg.File != "" {
		f, err := openLogFile(cfg.File)
		if err != nil {
			return zerolog.Nop(), nil, err
		}
		w, closer = f, f
	}
	log, err := NewLogger(w, cfg.Level, IsTerminal(w))
	if err != nil {
		closer.Close()
		return zerolog.Nop(), nil, err
	}
	return log, closer, nil
}

// openLogFile opens path for appending, creating it and its folder when
// they do not exist. The log holds payment ids and amounts, so it is not
// world-readable.
func openLogFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("cannot create the folder of log file %s; check log.file and the folder's permissions: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("cannot open log file %s for appending; check log.file and the file's permissions: %w", path, err)
	}
	return f, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
