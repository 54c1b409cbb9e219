//go:build !windows

package agent

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/creack/pty"
)

func TestOpenLogUsesConsoleFormatOnTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	if !IsTerminal(tty) {
		t.Fatal("IsTerminal(pty) = false")
	}
	log, closer, err := OpenLog(LogSection{Level: "info"}, tty)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	log.Info().Msg("link up")
	tty.Close() // the terminal side is done; the reader sees the end after the line

	out, _ := io.ReadAll(ptmx) // ends with EIO once the terminal side is closed
	if !bytes.Contains(out, []byte("link up")) {
		t.Fatalf("terminal got %q, want the event", out)
	}
	if json.Valid(bytes.TrimSpace(out)) {
		t.Errorf("terminal got JSON %q, want console lines", out)
	}
}
