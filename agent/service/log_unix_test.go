//go:build !windows

package service

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rs/zerolog"
)

// streamID returns f's "device:inode", as systemd writes it to
// JOURNAL_STREAM.
func streamID(t *testing.T, f *os.File) string {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

func TestOpenLogWritesPrioritiesToTheJournalStreamOnly(t *testing.T) {
	dir := t.TempDir()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stderr.Close() })
	other, err := os.Create(filepath.Join(dir, "other"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })

	tests := []struct {
		name    string
		journal string // JOURNAL_STREAM
		want    bool
	}{
		{"stderr is the journal stream", streamID(t, stderr), true},
		{"journal stream is another file", streamID(t, other), false},
		{"no journal", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("JOURNAL_STREAM", tt.journal)
			if err := stderr.Truncate(0); err != nil {
				t.Fatal(err)
			}
			out, err := OpenLog(Name, "", stderr)
			if err != nil {
				t.Fatal(err)
			}
			if out.Journal() != tt.want {
				t.Errorf("Journal() = %v, want %v", out.Journal(), tt.want)
			}
			log := zerolog.New(out).With().Timestamp().Logger()
			log.Warn().Msg("cannot open the register port")
			out.Close()
			got, err := os.ReadFile(stderr.Name())
			if err != nil {
				t.Fatal(err)
			}
			if prefixed := strings.HasPrefix(string(got), "<4>WRN cannot open the register port"); prefixed != tt.want {
				t.Errorf("line %q: priority prefix = %v, want %v", got, prefixed, tt.want)
			}
		})
	}
}
