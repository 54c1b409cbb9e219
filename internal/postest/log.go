package postest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"
)

// JSONLines decodes each line of b, a JSON log, as one event, and fails tb
// at a line that is not JSON.
func JSONLines(tb testing.TB, b []byte) []map[string]any {
	tb.Helper()
	var events []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			tb.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		events = append(events, e)
	}
	return events
}
