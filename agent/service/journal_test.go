package service

import (
	"bytes"
	"testing"

	"github.com/rs/zerolog"
)

func TestJournalWriterPrefixesEachLineWithItsPriority(t *testing.T) {
	tests := []struct {
		name string
		emit func(*zerolog.Logger)
		want string
	}{
		{"debug", func(l *zerolog.Logger) { l.Debug().Str("hex", "0102").Msg("frame") },
			"<7>DBG frame hex=0102\n"},
		{"info", func(l *zerolog.Logger) { l.Info().Int("unfinished", 2).Msg("resuming payments") },
			"<6>INF resuming payments unfinished=2\n"},
		{"warning", func(l *zerolog.Logger) { l.Warn().Int("retry", 250).Msg("cannot open the register port") },
			"<4>WRN cannot open the register port retry=250\n"},
		{"error", func(l *zerolog.Logger) { l.Error().Str("error", "disk full").Msg("posagent stopped on an error") },
			"<3>ERR posagent stopped on an error error=\"disk full\"\n"},
		{"no level", func(l *zerolog.Logger) { l.Log().Msg("posagent 1.2.0") },
			"<5>??? posagent 1.2.0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got bytes.Buffer
			log := zerolog.New(journalWriter{&got}).With().Timestamp().Logger()
			tt.emit(&log)
			if got.String() != tt.want {
				t.Errorf("journal line = %q, want %q (no time: the journal stamps lines itself)", got.String(), tt.want)
			}
		})
	}
}
