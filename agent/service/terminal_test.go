package service

import (
	"bytes"
	"os"
	"testing"
)

func TestIsTerminalFalseForPipesAndBuffers(t *testing.T) {
	// A pipe rather than a file in t.TempDir: this package's tests also run
	// under wine, whose folder removal fails.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	if IsTerminal(w) {
		t.Error("IsTerminal(pipe) = true")
	}
	if IsTerminal(&bytes.Buffer{}) {
		t.Error("IsTerminal(buffer) = true")
	}
}
