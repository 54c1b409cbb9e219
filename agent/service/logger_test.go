package service

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/posagent/posagent/internal/postest"
)

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
			for _, e := range postest.JSONLines(t, buf.Bytes()) {
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
