package agent

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/config"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/queue"
)

// TestPayDeadlineFitsAlipaysCancelWindow: a PAY's deadline (its exp, else
// polling.cancel_after) that would leave less than cancelMargin of Alipay's
// cancel window (until 00:15 UTC+8 of the next day) is shortened to end
// cancelMargin before it, and the shortening is logged at info.
func TestPayDeadlineFitsAlipaysCancelWindow(t *testing.T) {
	utc8 := time.FixedZone("UTC+8", 8*60*60)
	at := func(day, hour, minute, second int) time.Time {
		return time.Date(2026, 11, day, hour, minute, second, 0, utc8)
	}
	const cancelAfter = 60 * time.Second
	tests := []struct {
		name        string
		accepted    time.Time
		exp         time.Duration // 0: none given, polling.cancel_after applies
		cancelAfter time.Duration
		want        time.Time
		shortened   bool
	}{
		{"midday, 60 s", at(30, 12, 0, 0), 60 * time.Second, cancelAfter, at(30, 12, 1, 0), false},
		{"midday, a day", at(30, 12, 0, 0), 24 * time.Hour, cancelAfter, at(30, 23, 59, 59).Add(13*time.Minute + time.Second), true},
		{"23:59, 60 s", at(30, 23, 59, 0), 60 * time.Second, cancelAfter, at(30, 23, 59, 0).Add(time.Minute), false},
		{"23:59, 14 min ends exactly at the margin", at(30, 23, 59, 0), 14 * time.Minute, cancelAfter, at(30, 23, 59, 0).Add(14 * time.Minute), false},
		{"23:59, 14 min 1 s", at(30, 23, 59, 0), 14*time.Minute + time.Second, cancelAfter, at(30, 23, 59, 0).Add(14 * time.Minute), true},
		{"23:59, a day", at(30, 23, 59, 0), 24 * time.Hour, cancelAfter, at(30, 23, 59, 0).Add(14 * time.Minute), true},
		{"23:59:59, 13 min", at(30, 23, 59, 59), 13 * time.Minute, cancelAfter, at(30, 23, 59, 59).Add(13 * time.Minute), false},
		{"00:10 next day, a day", at(30, 0, 10, 0), 24 * time.Hour, cancelAfter, at(30, 0, 10, 0).Add(24 * time.Hour), false},
		{"00:14, a day", at(30, 0, 14, 0), 24 * time.Hour, cancelAfter, at(30, 0, 14, 0).Add(23*time.Hour + 59*time.Minute), true},
		{"00:15, a day", at(30, 0, 15, 0), 24 * time.Hour, cancelAfter, at(30, 0, 15, 0).Add(23*time.Hour + 58*time.Minute), true},
		{"over a year's end", time.Date(2026, 12, 31, 23, 50, 0, 0, utc8), 24 * time.Hour, cancelAfter, time.Date(2027, 1, 1, 0, 13, 0, 0, utc8), true},
		{"cancel_after at midday", at(30, 12, 0, 0), 0, 20 * time.Minute, at(30, 12, 20, 0), false},
		{"cancel_after at 23:59", at(30, 23, 59, 0), 0, 20 * time.Minute, at(30, 23, 59, 0).Add(14 * time.Minute), true},
		{"cancel_after of 13 min at 23:59:59", at(30, 23, 59, 59), 0, config.LongestSafeCancelAfter, at(30, 23, 59, 59).Add(13 * time.Minute), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, err := queue.Open(filepath.Join(t.TempDir(), "posagent.db"), queue.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			var logs bytes.Buffer
			a := New(store, nil, nil, Options{
				Interval: time.Second, CancelAfter: tt.cancelAfter, MaxRPS: 5,
				Log: zerolog.New(&logs),
				Now: func() time.Time { return tt.accepted },
			})
			r := a.handlePays([]pay{{req: "pos-42", amt: 500, cur: "USD", exp: tt.exp}}, a.now())[0]
			if r.state != device.StateAccepted {
				t.Fatalf("PAY answered %+v", r)
			}
			r.after() // answerPays logs it once the STATUS is posted
			p, err := store.Get("pos-42")
			if err != nil {
				t.Fatal(err)
			}
			if !p.Deadline.Equal(tt.want) {
				t.Errorf("deadline %s, want %s", p.Deadline.In(utc8), tt.want)
			}
			if end := alipay.CancelWindowEnd(tt.accepted); p.Deadline.After(end.Add(-cancelMargin)) {
				t.Errorf("deadline %s leaves less than %s before the window ends at %s", p.Deadline.In(utc8), cancelMargin, end.In(utc8))
			}
			if got := shortenedLogged(t, logs.String()); got != tt.shortened {
				t.Errorf("shortening logged: %v, want %v; log:\n%s", got, tt.shortened, logs.String())
			}
		})
	}
}

// shortenedLogged reports whether the log holds the info line of a
// shortened deadline.
func shortenedLogged(t *testing.T, log string) bool {
	t.Helper()
	found := false
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var e struct{ Level, Message, Req string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if strings.HasPrefix(e.Message, "deadline shortened") {
			if e.Level != "info" || e.Req != "pos-42" {
				t.Errorf("shortening logged as %+v, want level info and req pos-42", e)
			}
			found = true
		}
	}
	return found
}

// TestCancelMarginMatchesConfig: the configuration warns of exactly the
// polling.cancel_after values that fitDeadline can cut short.
func TestCancelMarginMatchesConfig(t *testing.T) {
	if got, want := config.LongestSafeCancelAfter, alipay.ShortestCancelWindow-cancelMargin; got != want {
		t.Errorf("config.LongestSafeCancelAfter = %v, want the shortest cancel window less cancelMargin, %v", got, want)
	}
}
