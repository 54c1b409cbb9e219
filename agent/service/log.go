package service

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"gopkg.in/natefinch/lumberjack.v2"
)

// Log file rotation: a terminal's disk is small and nobody cleans it, so the
// files are bounded in size and number.
const (
	logMaxSizeMB  = 10 // a file is rotated when it reaches this size
	logMaxBackups = 10 // rotated files kept beside the current one
)

// LogOutput is where the log lines of `posagent run` go. It is a
// zerolog.LevelWriter, so that sinks that take only some levels, such as the
// Windows Event Log, see each line's level.
type LogOutput struct {
	w       zerolog.LevelWriter
	closers []io.Closer
	file    string
	journal bool
}

// OpenLog opens the log output for the service name. file is the
// configuration's log.file: when it is set, lines go to that file, rotated by
// size. When it is empty they go to stderr, which systemd sends to the
// journal, each line with its priority; a Windows service has no stderr, so
// its lines go to posagent\logs\posagent.log in ProgramData. A Windows
// service also sends warnings and errors to the Event Log under the source
// name.
//
// Lines are written as text, coloured only on a terminal.
func OpenLog(name, file string, stderr io.Writer) (*LogOutput, error) {
	file, sinks, err := systemSinks(name, file)
	if err != nil {
		return nil, err
	}
	out := &LogOutput{}
	for _, s := range sinks {
		out.closers = append(out.closers, s.closer)
	}
	var main io.Writer
	if file == "" {
		if f, ok := stderr.(*os.File); ok && isJournal(f) {
			main = journalWriter{stderr}
			out.journal = true
		} else {
			main = textWriter(stderr, !IsTerminal(stderr))
		}
	} else {
		abs, err := filepath.Abs(file)
		if err != nil {
			out.Close()
			return nil, fmt.Errorf("cannot make the log file path %s absolute; give the full path in log.file: %w", file, err)
		}
		if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
			out.Close()
			return nil, fmt.Errorf("cannot create the log folder %s; check log.file and the folder's permissions: %w", filepath.Dir(abs), err)
		}
		lj := &lumberjack.Logger{
			Filename:   abs,
			MaxSize:    logMaxSizeMB,
			MaxBackups: logMaxBackups,
			LocalTime:  true,
		}
		out.closers = append(out.closers, lj)
		out.file = abs
		main = textWriter(lj, true)
	}
	writers := []io.Writer{main}
	for _, s := range sinks {
		writers = append(writers, s.writer)
	}
	out.w = zerolog.MultiLevelWriter(writers...)
	return out, nil
}

// File returns the absolute path of the log file, or "" when lines go to
// stderr.
func (o *LogOutput) File() string { return o.file }

// Journal reports whether lines go to the systemd journal: stderr is the
// journal stream systemd gave the service, and each line carries its
// priority there.
func (o *LogOutput) Journal() bool { return o.journal }

// Write writes a line that has no level.
func (o *LogOutput) Write(p []byte) (int, error) { return o.w.Write(p) }

// WriteLevel writes a line of level l.
func (o *LogOutput) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	return o.w.WriteLevel(l, p)
}

// Close closes the log file and the Event Log.
func (o *LogOutput) Close() error {
	var errs []error
	for _, c := range o.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// sink is a log destination besides the main one.
type sink struct {
	writer zerolog.LevelWriter
	closer io.Closer
}

// textWriter writes zerolog's JSON lines to w as readable text.
func textWriter(w io.Writer, noColor bool) io.Writer {
	return zerolog.ConsoleWriter{Out: w, NoColor: noColor, TimeFormat: time.RFC3339}
}

// writeUnstamped writes zerolog's JSON line p to w as text without colour
// and without its time, for sinks that stamp each line themselves.
func writeUnstamped(w io.Writer, p []byte) error {
	cw := zerolog.ConsoleWriter{Out: w, NoColor: true, PartsExclude: []string{zerolog.TimestampFieldName}}
	_, err := cw.Write(p)
	return err
}

// IsTerminal reports whether w is a terminal (including a Cygwin or MSYS
// terminal on Windows), where people rather than programs read the log.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// levelFilter passes on the lines from warn to panic and drops the others,
// including those without a level.
type levelFilter struct {
	min zerolog.Level
	w   zerolog.LevelWriter
}

// Write drops the line: a line without a level is never a warning.
func (f levelFilter) Write(p []byte) (int, error) { return len(p), nil }

// WriteLevel passes on the line when its level is min or above.
func (f levelFilter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	if l < f.min || l > zerolog.PanicLevel {
		return len(p), nil
	}
	return f.w.WriteLevel(l, p)
}
