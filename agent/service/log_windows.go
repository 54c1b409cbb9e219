//go:build windows

package service

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/eventlog"
)

// eventID is the id of every event posagent writes. The EventCreate message
// file its source is registered with takes ids 1 to 1000.
const eventID = 1

// systemSinks gives a Windows service, which has no stderr, its default log
// file under ProgramData, and sends its warnings and errors to the Event Log
// too. In a terminal it adds nothing.
func systemSinks(name, file string) (string, []sink, error) {
	if !underManager() {
		return file, nil, nil
	}
	if file == "" {
		file = filepath.Join(programData(), "posagent", "logs", "posagent.log")
	}
	el, err := eventlog.Open(name)
	if err != nil {
		return "", nil, fmt.Errorf("cannot open the Event Log for source %s; reinstall the service: %w", name, err)
	}
	w := levelFilter{min: zerolog.WarnLevel, w: eventLogWriter{el}}
	return file, []sink{{writer: w, closer: el}}, nil
}

// isJournal reports false: Windows has no systemd journal.
func isJournal(*os.File) bool { return false }

// programData returns the ProgramData folder as the system knows it, as the
// installer finds it, rather than from %ProgramData%, which a service's
// environment need not have or may have elsewhere.
func programData() string {
	if d, err := windows.KnownFolderPath(windows.FOLDERID_ProgramData, 0); err == nil && d != "" {
		return d
	}
	return `C:\ProgramData`
}

// eventLogWriter writes zerolog lines to the Event Log as text: errors and
// worse as error events, the rest as warnings.
type eventLogWriter struct {
	el *eventlog.Log
}

func (w eventLogWriter) Write(p []byte) (int, error) {
	return w.WriteLevel(zerolog.WarnLevel, p)
}

func (w eventLogWriter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	var text bytes.Buffer
	if err := writeUnstamped(&text, p); err != nil {
		return 0, err
	}
	msg := strings.TrimSpace(text.String())
	var err error
	if l >= zerolog.ErrorLevel {
		err = w.el.Error(eventID, msg)
	} else {
		err = w.el.Warning(eventID, msg)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}
