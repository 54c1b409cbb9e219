package status

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/posagent/posagent/queue"
)

const writeToken = "0123456789abcdef0123456789abcdef-write"

// reconciliationServer is the fixture's server keeping reconciliations in
// its store, taking them with writeToken, behind the read token when
// readToken is not empty.
func (f *fixture) reconciliationServer(readToken string) *Server {
	return NewServer(Options{
		Source:          SourceFunc(func() Snapshot { return f.snap }),
		Payments:        f.store,
		Reconciliations: f.store,
		WriteToken:      writeToken,
		Token:           readToken,
	})
}

func sampleReconciliation() queue.Reconciliation {
	return queue.Reconciliation{
		Time: t0.Add(-time.Hour), Files: []string{"/srv/reports/20261129.csv"},
		From: time.Date(2026, 11, 28, 16, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 29, 16, 0, 0, 0, time.UTC),
		Rows: 42, Matched: 40, Discrepancies: 2,
		Counts: map[string]int{"paid_not_success": 1, "success_not_paid": 0, "amount_differs": 1, "not_covered": 3},
	}
}

func put(t *testing.T, h http.Handler, token, body string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPut, "/api/reconciliation", strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	h.ServeHTTP(rec, r)
	return rec.Code, rec.Body.String()
}

func TestPutReconciliationDemandsTheWriteToken(t *testing.T) {
	body, err := json.Marshal(sampleReconciliation())
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	tests := []struct {
		name   string
		srv    *Server
		token  string
		body   string
		code   int
		stored bool
	}{
		{"no token", f.reconciliationServer(""), "", string(body), http.StatusUnauthorized, false},
		{"wrong token", f.reconciliationServer(""), writeToken + "x", string(body), http.StatusUnauthorized, false},
		{"not a summary", f.reconciliationServer(""), writeToken, `{"rows": 3}`, http.StatusBadRequest, false},
		{"not JSON", f.reconciliationServer(""), writeToken, `rows=3`, http.StatusBadRequest, false},
		{"too long", f.reconciliationServer(""), writeToken, `{"files":["` + strings.Repeat("a", maxReconciliationBody) + `"]}`, http.StatusRequestEntityTooLarge, false},
		{"no write token configured", NewServer(Options{Source: SourceFunc(func() Snapshot { return f.snap }), Payments: f.store, Reconciliations: f.store}), writeToken, string(body), http.StatusForbidden, false},
		{"no reconciliations kept", f.server(), writeToken, string(body), http.StatusNotFound, false},
		{"behind the read token too", f.reconciliationServer(writeToken), writeToken, string(body), http.StatusOK, true},
		{"loopback", f.reconciliationServer(""), writeToken, string(body), http.StatusOK, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := f.store.PutReconciliation(queue.Reconciliation{Time: t0.Add(-48 * time.Hour)}); err != nil {
				t.Fatal(err)
			}
			code, answer := put(t, tt.srv, tt.token, tt.body)
			if code != tt.code {
				t.Fatalf("PUT answered %d %s; want %d", code, answer, tt.code)
			}
			got, _, err := f.store.LastReconciliation()
			if err != nil {
				t.Fatal(err)
			}
			if stored := got.Time.Equal(t0.Add(-time.Hour)); stored != tt.stored {
				t.Errorf("stored %v (%+v); want %v", stored, got, tt.stored)
			}
		})
	}
}

func TestReconciliationOnThePageTheAPIAndTheMetrics(t *testing.T) {
	f := newFixture(t)
	srv := f.reconciliationServer("")

	// Before the first run: nothing shown, no metric.
	_, _, page := get(t, srv, "/")
	_, _, metrics := get(t, srv, "/metrics")
	if strings.Contains(page, `id="reconciliation"`) || strings.Contains(metrics, "posagent_reconcile_") {
		t.Error("a reconciliation is shown before the first one")
	}

	ln := httptest.NewServer(srv)
	defer ln.Close()
	c := NewClient(strings.TrimPrefix(ln.URL, "http://"), writeToken)
	if err := c.PutReconciliation(context.Background(), sampleReconciliation()); err != nil {
		t.Fatal(err)
	}
	snap, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r := snap.Reconciliation; r == nil || r.Rows != 42 || r.Discrepancies != 2 || !r.Time.Equal(t0.Add(-time.Hour)) {
		t.Errorf("/api/status reconciliation = %+v", snap.Reconciliation)
	}

	_, _, page = get(t, srv, "/")
	for _, want := range []string{`id="reconciliation"`, "2 TO CHECK", "20261129.csv", "42 rows", "1 paid_not_success", "3 not_covered"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	_, _, metrics = get(t, srv, "/metrics")
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(metrics))
	if err != nil {
		t.Fatal(err)
	}
	gauge := func(name, kind string) float64 {
		for _, m := range families[name].GetMetric() {
			if kind == "" || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == kind) {
				return m.GetGauge().GetValue()
			}
		}
		t.Errorf("no %s %s", name, kind)
		return -1
	}
	if got := gauge("posagent_reconcile_last_run_timestamp_seconds", ""); got != float64(t0.Add(-time.Hour).Unix()) {
		t.Errorf("last run %v", got)
	}
	if got := gauge("posagent_reconcile_period_end_timestamp_seconds", ""); got != float64(time.Date(2026, 11, 29, 16, 0, 0, 0, time.UTC).Unix()) {
		t.Errorf("period end %v", got)
	}
	if gauge("posagent_reconcile_discrepancies", "") != 2 || gauge("posagent_reconcile_findings", "amount_differs") != 1 || gauge("posagent_reconcile_findings", "success_not_paid") != 0 {
		t.Errorf("findings metrics:\n%s", metrics)
	}
}
