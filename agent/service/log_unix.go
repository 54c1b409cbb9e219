//go:build !windows

package service

import (
	"fmt"
	"os"
	"syscall"
)

// systemSinks adds nothing on Linux: under systemd, stderr goes to the
// journal, and journalWriter gives each line its priority there.
func systemSinks(_, file string) (string, []sink, error) {
	return file, nil, nil
}

// isJournal reports whether f is the stream systemd connected to the journal:
// systemd puts that stream's "device:inode" in JOURNAL_STREAM
// (systemd.exec(5)). Comparing them tells a service's own stderr from one a
// command it started redirected elsewhere.
func isJournal(f *os.File) bool {
	want := os.Getenv("JOURNAL_STREAM")
	if want == "" {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fmt.Sprintf("%d:%d", st.Dev, st.Ino) == want
}
