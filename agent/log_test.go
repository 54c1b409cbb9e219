package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// jsonLines decodes each line of b as one JSON log event.
func jsonLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var events []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		events = append(events, e)
	}
	return events
}

func TestNewLoggerFiltersByLevel(t *testing.T) {
	tests := []struct {
		level string
		want  []string // messages kept, of debug, info, warn, error
	}{
		{"debug", []string{"d", "i", "w", "e"}},
		{"info", []string{"i", "w", "e"}},
		{"warn", []string{"w", "e"}},
		{"error", []string{"e"}},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := NewLogger(&buf, tt.level, false)
			if err != nil {
				t.Fatal(err)
			}
			log.Debug().Msg("d")
			log.Info().Msg("i")
			log.Warn().Msg("w")
			log.Error().Msg("e")
			var got []string
			for _, e := range jsonLines(t, buf.Bytes()) {
				got = append(got, e["message"].(string))
				if _, ok := e["time"]; !ok {
					t.Errorf("event %v has no time", e)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("level %s kept %v, want %v", tt.level, got, tt.want)
			}
		})
	}
}

func TestNewLoggerRefusesUnknownLevel(t *testing.T) {
	for _, level := range []string{"", "trace", "INFO", "warning"} {
		if _, err := NewLogger(&bytes.Buffer{}, level, false); err == nil {
			t.Errorf("NewLogger level %q: no error", level)
		}
	}
}

func TestNewLoggerConsoleIsNotJSON(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewLogger(&buf, "info", true)
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Str("payment_request_id", "R1").Msg("payment accepted")
	out := buf.String()
	if json.Valid(bytes.TrimSpace(buf.Bytes())) {
		t.Errorf("console output is JSON: %q", out)
	}
	for _, part := range []string{"INF", "payment accepted", "payment_request_id=", "R1"} {
		if !strings.Contains(out, part) {
			t.Errorf("console output %q lacks %q", out, part)
		}
	}
}

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

func TestOpenLogAppendsJSONToFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "posagent.log")
	for _, msg := range []string{"first", "second"} {
		log, closer, err := OpenLog(LogSection{Level: "info", File: path}, nil)
		if err != nil {
			t.Fatal(err)
		}
		log.Info().Msg(msg)
		if err := closer.Close(); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	events := jsonLines(t, data)
	if len(events) != 2 || events[0]["message"] != "first" || events[1]["message"] != "second" {
		t.Errorf("log file holds %v, want first then second", events)
	}
}

func TestOpenLogWritesToStderrWithoutFile(t *testing.T) {
	var stderr bytes.Buffer
	log, closer, err := OpenLog(LogSection{Level: "warn"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	log.Info().Msg("dropped")
	log.Warn().Msg("kept")
	events := jsonLines(t, stderr.Bytes())
	if len(events) != 1 || events[0]["message"] != "kept" || events[0]["level"] != "warn" {
		t.Errorf("stderr holds %v, want the one warning", events)
	}
}

func TestOpenLogReportsUnusableFile(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A regular file where the log's folder should be.
	_, _, err := OpenLog(LogSection{Level: "info", File: filepath.Join(blocker, "posagent.log")}, nil)
	if err == nil || !strings.Contains(err.Error(), "log.file") {
		t.Errorf("OpenLog under a file = %v, want an error naming log.file", err)
	}
}
