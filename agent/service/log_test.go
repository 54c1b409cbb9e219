package service

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// levelRecorder is a LevelWriter that keeps the levels it was given.
type levelRecorder struct {
	levels []zerolog.Level
}

func (r *levelRecorder) Write(p []byte) (int, error) {
	return r.WriteLevel(zerolog.NoLevel, p)
}

func (r *levelRecorder) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	r.levels = append(r.levels, l)
	return len(p), nil
}

func TestLevelFilterPassesWarningsAndWorseOnly(t *testing.T) {
	tests := []struct {
		level zerolog.Level
		pass  bool
	}{
		{zerolog.TraceLevel, false},
		{zerolog.DebugLevel, false},
		{zerolog.InfoLevel, false},
		{zerolog.WarnLevel, true},
		{zerolog.ErrorLevel, true},
		{zerolog.FatalLevel, true},
		{zerolog.PanicLevel, true},
		{zerolog.NoLevel, false},
	}
	for _, tt := range tests {
		rec := &levelRecorder{}
		f := levelFilter{min: zerolog.WarnLevel, w: rec}
		n, err := f.WriteLevel(tt.level, []byte("{}\n"))
		if err != nil || n != 3 {
			t.Errorf("WriteLevel(%v) = (%d, %v), want (3, nil)", tt.level, n, err)
		}
		if got := len(rec.levels) == 1; got != tt.pass {
			t.Errorf("level %v passed = %v, want %v", tt.level, got, tt.pass)
		}
	}
}

func TestLevelFilterDropsLinesWithoutLevel(t *testing.T) {
	rec := &levelRecorder{}
	if _, err := (levelFilter{min: zerolog.WarnLevel, w: rec}).Write([]byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	if len(rec.levels) != 0 {
		t.Fatalf("a line without a level reached the sink: %v", rec.levels)
	}
}

func TestOpenLogWritesTextToTheConfiguredFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "logs", "posagent.log")
	var stderr bytes.Buffer
	out, err := OpenLog(Name, file, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if out.File() != file {
		t.Errorf("File() = %q, want %q", out.File(), file)
	}
	log := zerolog.New(out).With().Timestamp().Logger()
	log.Warn().Str("request_id", "R1").Msg("inquiry failed")
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"WRN", "inquiry failed", "request_id=R1"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("log file %q lacks %q", data, want)
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr got %q while logging to a file", stderr.String())
	}
}

func TestOpenLogWritesToStderrWithoutFile(t *testing.T) {
	var stderr bytes.Buffer
	out, err := OpenLog(Name, "", &stderr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	if out.File() != "" {
		t.Errorf("File() = %q, want stderr", out.File())
	}
	log := zerolog.New(out)
	log.Info().Msg("started")
	if got := stderr.String(); !strings.Contains(got, "INF") || !strings.Contains(got, "started") || strings.Contains(got, "\x1b[") {
		t.Fatalf("stderr = %q, want an uncoloured text line", got)
	}
}
