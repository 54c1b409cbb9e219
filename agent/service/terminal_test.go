package service

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestIsTerminalFalseForFilesAndBuffers(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if IsTerminal(f) {
		t.Error("IsTerminal(regular file) = true")
	}
	if IsTerminal(&bytes.Buffer{}) {
		t.Error("IsTerminal(buffer) = true")
	}
}
