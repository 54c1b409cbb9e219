package status

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/posagent/posagent/queue"
)

// scrape serves /metrics of s and returns its families by name.
func scrape(t *testing.T, s *Server) map[string]*metricFamily {
	t.Helper()
	code, _, body := get(t, s, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: code %d", code)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("not Prometheus text format: %v", err)
	}
	out := map[string]*metricFamily{}
	for name, mf := range families {
		f := &metricFamily{}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.Counter.GetValue()
			}
			f.series = append(f.series, series{labels, v})
		}
		out[name] = f
	}
	return out
}

type series struct {
	labels map[string]string
	value  float64
}

type metricFamily struct{ series []series }

// only returns the value of the family's one series, failing t unless
// there is exactly one.
func only(t *testing.T, families map[string]*metricFamily, name string) float64 {
	t.Helper()
	f := families[name]
	if f == nil || len(f.series) != 1 {
		t.Fatalf("%s: want one series, have %+v", name, f)
	}
	return f.series[0].value
}

func TestMetricsForTheFleet(t *testing.T) {
	f := newFixture(t)
	// Two payments past their deadline: one still asked about, one being
	// cancelled. The earliest deadline passed 15 minutes before t0.
	for _, p := range []queue.Payment{
		{RequestID: "pos-overdue-5", Amount: 100, Currency: "USD", AcceptedAt: t0.Add(-20 * time.Minute), Deadline: t0.Add(-15 * time.Minute)},
		{RequestID: "pos-overdue-6", Amount: 100, Currency: "USD", AcceptedAt: t0.Add(-7 * time.Minute), Deadline: t0.Add(-5 * time.Minute)},
	} {
		if _, _, err := f.store.Accept(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.store.StartCancel("pos-overdue-6", "TIMEOUT", t0); err != nil {
		t.Fatal(err)
	}
	f.snap.Store.Errors = 4
	f.snap.Alipay.MeasuredClockOffsetSeconds = -150
	f.snap.Accepted, f.snap.Finished = 7, 5

	s := NewServer(Options{
		Source:   SourceFunc(func() Snapshot { return f.snap }),
		Payments: f.store,
		Identity: Identity{Store: "Nanjing Rd 0042", Lane: "3"},
	})
	families := scrape(t, s)
	tests := []struct {
		name string
		want float64
	}{
		{"posagent_payments_overdue", 2},
		{"posagent_oldest_overdue_seconds", (15 * time.Minute).Seconds()},
		// pos-undelivered-3 was made final when the fixture's store clock
		// read 10 minutes before t0.
		{"posagent_oldest_undelivered_age_seconds", (10 * time.Minute).Seconds()},
		{"posagent_store_errors_total", 4},
		{"posagent_clock_offset_seconds", -150},
		{"posagent_info", 1},
		{"posagent_payments_accepted_total", 7},
		{"posagent_payments_finished_total", 5},
	}
	for _, tt := range tests {
		if got := only(t, families, tt.name); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := families["posagent_info"].series[0].labels; got["store"] != "Nanjing Rd 0042" || got["lane"] != "3" {
		t.Errorf("posagent_info labels %v, want store and lane as configured", got)
	}
}

func TestFleetMetricsAreZeroWithNothingWaiting(t *testing.T) {
	store, err := queue.Open(t.TempDir()+"/posagent.db", queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s := NewServer(Options{
		Source:   SourceFunc(func() Snapshot { return Snapshot{Taken: t0, Store: Store{Open: true}} }),
		Payments: store,
	})
	families := scrape(t, s)
	for _, name := range []string{
		"posagent_payments_overdue", "posagent_oldest_overdue_seconds", "posagent_oldest_undelivered_age_seconds",
		"posagent_store_errors_total", "posagent_clock_offset_seconds",
		"posagent_payments_accepted_total", "posagent_payments_finished_total",
	} {
		if got := only(t, families, name); got != 0 {
			t.Errorf("%s = %v, want 0", name, got)
		}
	}
	// No store or lane configured: posagent_info is still there, with
	// empty labels, so that joins on it keep every terminal.
	if got := only(t, families, "posagent_info"); got != 1 {
		t.Errorf("posagent_info = %v, want 1", got)
	}
}

// TestEveryMetricHasHelpAndUnits keeps the names of the agent's own series
// in the posagent_ style: a HELP text, counters ending in _total, and
// durations and instants in seconds.
func TestEveryMetricHasHelpAndUnits(t *testing.T) {
	f := newFixture(t)
	code, _, body := get(t, f.server(), "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: code %d", code)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for name, mf := range families {
		if !strings.HasPrefix(name, "posagent_") {
			continue
		}
		if strings.TrimSpace(mf.GetHelp()) == "" {
			t.Errorf("%s has no HELP text", name)
		}
		if mf.GetType().String() == "COUNTER" && !strings.HasSuffix(name, "_total") {
			t.Errorf("counter %s does not end in _total", name)
		}
		for _, word := range []string{"_age", "_time", "_timestamp", "_duration", "_offset", "_overdue_"} {
			if strings.Contains(name, word) && !strings.Contains(name, "_seconds") {
				t.Errorf("%s measures time but is not in _seconds", name)
			}
		}
	}
}
