package device

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestOpenFailuresWarnOnceThenEveryFiveMinutes(t *testing.T) {
	gone := errors.New("register port /dev/ttyUSB0 not found")
	denied := errors.New("permission denied")
	start := time.Unix(0, 0)
	steps := []struct {
		at    time.Duration
		err   error
		level string
		count int // failed_since_last_warning, this one included; 0 when absent
	}{
		{0, gone, "warn", 0},
		{250 * time.Millisecond, gone, "debug", 0},
		{750 * time.Millisecond, gone, "debug", 0},
		{2 * time.Minute, gone, "debug", 0},
		{5 * time.Minute, gone, "warn", 4},
		{5*time.Minute + 5*time.Second, gone, "debug", 0},
		{6 * time.Minute, denied, "warn", 2},
		{6*time.Minute + 5*time.Second, denied, "debug", 0},
		{6*time.Minute + 10*time.Second, gone, "warn", 2},
	}
	var out bytes.Buffer
	log := zerolog.New(&out)
	var f openFailures
	for i, st := range steps {
		out.Reset()
		f.log(log, start.Add(st.at), st.err, time.Second)
		var line struct {
			Level string `json:"level"`
			Error string `json:"error"`
			Count int    `json:"failed_since_last_warning"`
		}
		if err := json.Unmarshal(out.Bytes(), &line); err != nil {
			t.Fatalf("step %d: %v in %q", i, err, out.String())
		}
		if line.Level != st.level || line.Count != st.count || line.Error != st.err.Error() {
			t.Errorf("step %d (%v, %v): logged %+v, want level %s with count %d", i, st.at, st.err, line, st.level, st.count)
		}
	}
}
