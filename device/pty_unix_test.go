//go:build unix

package device

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// pollable returns a copy of f that the Go runtime polls, so Close ends a
// Read blocked on it, and closes f. creack/pty hands out its master already
// switched to blocking mode.
func pollable(t testing.TB, f *os.File) *os.File {
	t.Helper()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return os.NewFile(uintptr(fd), f.Name())
}
