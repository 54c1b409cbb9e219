//go:build unix

package service

import (
	"testing"

	"github.com/creack/pty"
)

func TestIsTerminalTrueForAPseudoTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	if !IsTerminal(tty) {
		t.Fatal("IsTerminal(pty) = false")
	}
}
