package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/posagent/posagent/queue"
)

// t0 is the fixture's "now".
var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// fixture is a real store in a temporary folder holding one payment in each
// interesting condition, and a snapshot of an agent that has it open.
type fixture struct {
	store *queue.Store
	calls *Calls
	snap  Snapshot
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	now := t0.Add(-10 * time.Minute)
	store, err := queue.Open(t.TempDir()+"/posagent.db", queue.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	accept := func(req string, amt int64, at time.Time) {
		t.Helper()
		_, _, err := store.Accept(queue.Payment{RequestID: req, Amount: amt, Currency: "USD", Lane: "3", AcceptedAt: at, Deadline: at.Add(time.Hour)})
		must(err)
	}
	// pos-pending-1: accepted 10 minutes ago, asked twice, PROCESSING.
	accept("pos-pending-1", 500, t0.Add(-10*time.Minute))
	must(store.Record("pos-pending-1", queue.Event{Time: t0.Add(-9 * time.Minute), Call: queue.CallInquiry, ResultStatus: "S", PaymentStatus: "PROCESSING"}, t0.Add(3*time.Second)))
	must(store.Record("pos-pending-1", queue.Event{Time: t0.Add(-8 * time.Minute), Call: queue.CallInquiry, Error: "connection refused"}, t0.Add(3*time.Second)))
	// pos-cancelling-2: accepted 2 minutes ago, being cancelled.
	accept("pos-cancelling-2", 1250, t0.Add(-2*time.Minute))
	must(store.StartCancel("pos-cancelling-2", "TIMEOUT", t0))
	// pos-undelivered-3: final SUCCESS, the register has not said DONE.
	accept("pos-undelivered-3", 700, t0.Add(-30*time.Minute))
	_, err = store.Finish("pos-undelivered-3", queue.Result{Status: queue.Success, PaymentID: "2026113011112800100", Code: "SUCCESS", Time: "2026-11-30T16:31:00+08:00"},
		queue.Event{Time: t0.Add(-29 * time.Minute), Call: queue.CallInquiry, ResultStatus: "S", PaymentStatus: "SUCCESS"})
	must(err)
	// pos-delivered-4: final FAIL, delivered, flagged.
	accept("pos-delivered-4", 900, t0.Add(-48*time.Hour))
	_, err = store.Finish("pos-delivered-4", queue.Result{Status: queue.Fail, Code: "USER_BALANCE_NOT_ENOUGH"},
		queue.Event{Time: t0.Add(-47 * time.Hour), Call: queue.CallInquiry, ResultStatus: "S", PaymentStatus: "FAIL"})
	must(err)
	must(store.Deliver("pos-delivered-4", t0.Add(-47*time.Hour)))
	must(store.Flag("pos-delivered-4", "customer disputes the charge"))

	calls := NewCalls()
	calls.Observe(Call{Kind: "inquiry", Request: "pos-pending-1", Outcome: "ok", Duration: 120 * time.Millisecond, At: t0.Add(-9 * time.Minute), Answered: true})
	calls.Observe(Call{Kind: "inquiry", Request: "pos-pending-1", Outcome: "network", Duration: 2 * time.Second, At: t0.Add(-8 * time.Minute), Err: errors.New("dial tcp: connection refused")})
	calls.Observe(Call{Kind: "cancel", Request: "pos-cancelling-2", Outcome: "ok", Duration: 300 * time.Millisecond, At: t0.Add(-1 * time.Minute), Answered: true})

	f := &fixture{store: store, calls: calls}
	f.snap = Snapshot{
		Version: "1.2.3",
		Started: t0.Add(-3 * time.Hour),
		Taken:   t0,
		Link: Link{
			Port: "auto", Device: "/dev/ttyUSB0", USB: "0403:6001:A10K1234", Up: true, Since: t0.Add(-2 * time.Hour),
			FramesIn: 40, FramesOut: 38, NAKsIn: 1, NAKsOut: 2, Resends: 3,
		},
		Alipay: Alipay{Endpoint: "https://open-sea-global.alipay.com", ClientID: "SANDBOX_5X00000000000000"},
		Store:  Store{Open: true, Path: store.Path()},
	}
	calls.Fill(&f.snap.Alipay)
	return f
}

// server returns a Server over the fixture, showing snap.
func (f *fixture) server() *Server {
	return NewServer(Options{
		Source:   SourceFunc(func() Snapshot { return f.snap }),
		Payments: f.store,
		Calls:    f.calls,
	})
}

// get makes one request to h and returns the status code, the content type
// and the body.
func get(t *testing.T, h http.Handler, target string) (int, string, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec.Code, rec.Header().Get("Content-Type"), rec.Body.String()
}

func TestHealthzSaysWhyItIsUnhealthy(t *testing.T) {
	tests := []struct {
		name     string
		change   func(*Snapshot)
		wantCode int
		want     []string
	}{
		{"healthy", func(*Snapshot) {}, 200, []string{"ok"}},
		{"store closed", func(s *Snapshot) { s.Store = Store{Error: "disk full"} }, 503,
			[]string{"the payment store is not open: disk full"}},
		{"operator problem", func(s *Snapshot) { s.Alipay.OperatorProblem = "INVALID_SIGNATURE: check the private key" }, 503,
			[]string{"Alipay needs an operator: INVALID_SIGNATURE: check the private key"}},
		{"store fault", func(s *Snapshot) { s.Store.Fault, s.Store.Problem = "disk_full", "the disk is full: free space" }, 503,
			[]string{"the payment store takes no new payments: the disk is full: free space"}},
		{"link down and Alipay unreachable are not operator problems", func(s *Snapshot) { s.Link.Up = false; s.Alipay.Reachable = false }, 200, []string{"ok"}},
		{"both", func(s *Snapshot) { s.Store.Open = false; s.Alipay.OperatorProblem = "wrong client id" }, 503,
			[]string{"the payment store is not open", "Alipay needs an operator: wrong client id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tt.change(&f.snap)
			code, ctype, body := get(t, f.server(), "/healthz")
			if code != tt.wantCode {
				t.Errorf("code = %d, want %d", code, tt.wantCode)
			}
			if !strings.HasPrefix(ctype, "text/plain") {
				t.Errorf("Content-Type = %q, want text/plain", ctype)
			}
			if got := strings.Split(strings.TrimSpace(body), "\n"); strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("body lines = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAPIStatusCountsTheStore(t *testing.T) {
	f := newFixture(t)
	code, ctype, body := get(t, f.server(), "/api/status")
	if code != 200 || ctype != "application/json" {
		t.Fatalf("code %d, Content-Type %q, want 200 application/json", code, ctype)
	}
	var got statusJSON
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("body is not the status JSON: %v\n%s", err, body)
	}
	want := Store{
		Open: true, Path: f.store.Path(),
		Pending: 1, Cancelling: 1, Undelivered: 1, Delivered: 1, FollowUp: 1,
		OldestPending: t0.Add(-10 * time.Minute),
	}
	if !got.Store.OldestPending.Equal(want.OldestPending) {
		t.Errorf("oldest pending = %v, want %v", got.Store.OldestPending, want.OldestPending)
	}
	got.Store.OldestPending = want.OldestPending
	if wantUndelivered := t0.Add(-10 * time.Minute); !got.Store.OldestUndelivered.Equal(wantUndelivered) {
		t.Errorf("oldest undelivered = %v, want %v", got.Store.OldestUndelivered, wantUndelivered)
	}
	got.Store.OldestUndelivered = time.Time{}
	if !reflect.DeepEqual(got.Store, want) {
		t.Errorf("store = %+v, want %+v", got.Store, want)
	}
	if got.Version != "1.2.3" || got.UptimeSeconds != 3*3600 || !got.Healthy || len(got.Problems) != 0 {
		t.Errorf("version %q, uptime %v s, healthy %v, problems %q; want 1.2.3, 10800 s, true, none",
			got.Version, got.UptimeSeconds, got.Healthy, got.Problems)
	}
	if got.Link.Device != "/dev/ttyUSB0" || !got.Link.Up || got.Link.Resends != 3 {
		t.Errorf("link = %+v, want the fixture's", got.Link)
	}
	if len(got.Alipay.Errors) != 1 || got.Alipay.Errors[0].Request != "pos-pending-1" || got.Alipay.Errors[0].Outcome != "network" {
		t.Errorf("alipay errors = %+v, want the one network failure of pos-pending-1", got.Alipay.Errors)
	}
	if !got.Alipay.Reachable || !got.Alipay.LastCall.Equal(t0.Add(-time.Minute)) {
		t.Errorf("alipay reachable %v, last call %v; want true at %v", got.Alipay.Reachable, got.Alipay.LastCall, t0.Add(-time.Minute))
	}
}

func TestAPIPaymentsFilters(t *testing.T) {
	tests := []struct {
		query string
		want  []string // request ids, most recently accepted first
	}{
		{"", []string{"pos-cancelling-2", "pos-pending-1", "pos-undelivered-3", "pos-delivered-4"}},
		{"?state=PENDING", []string{"pos-pending-1"}},
		{"?state=pending,cancelling", []string{"pos-cancelling-2", "pos-pending-1"}},
		{"?state=SUCCESS&state=FAIL", []string{"pos-undelivered-3", "pos-delivered-4"}},
		{"?since=2026-11-30", []string{"pos-cancelling-2", "pos-pending-1", "pos-undelivered-3"}},
		{"?since=2026-11-30T08:55:00Z", []string{"pos-cancelling-2"}},
		{"?follow_up=true", []string{"pos-delivered-4"}},
		{"?limit=2", []string{"pos-cancelling-2", "pos-pending-1"}},
	}
	f := newFixture(t)
	srv := f.server()
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			code, _, body := get(t, srv, "/api/payments"+tt.query)
			if code != 200 {
				t.Fatalf("code = %d, want 200; body %s", code, body)
			}
			var ps []queue.Payment
			if err := json.Unmarshal([]byte(body), &ps); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.RequestID)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("payments = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAPIPaymentsRefusesABadFilter(t *testing.T) {
	f := newFixture(t)
	for _, q := range []string{"state=DONE", "since=yesterday", "follow_up=maybe", "limit=-1"} {
		code, _, body := get(t, f.server(), "/api/payments?"+q)
		var e errorJSON
		if code != 400 || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
			t.Errorf("%s: code %d, body %s; want 400 with an error message", q, code, body)
		}
	}
}

func TestAPIPaymentGivesTheWholeRecord(t *testing.T) {
	f := newFixture(t)
	code, _, body := get(t, f.server(), "/api/payments/pos-undelivered-3")
	if code != 200 {
		t.Fatalf("code = %d, want 200; body %s", code, body)
	}
	var p queue.Payment
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	want, err := f.store.Get("pos-undelivered-3")
	if err != nil {
		t.Fatal(err)
	}
	gotJSON, _ := json.Marshal(p)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("payment = %s\nwant %s", gotJSON, wantJSON)
	}

	code, _, body = get(t, f.server(), "/api/payments/no-such-payment")
	if code != 404 || !strings.Contains(body, "not found") {
		t.Errorf("unknown payment: code %d, body %s; want 404 saying not found", code, body)
	}
}

func TestMetricsReportTheAgentAndItsCalls(t *testing.T) {
	f := newFixture(t)
	code, ctype, body := get(t, f.server(), "/metrics")
	if code != 200 || !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("code %d, Content-Type %q; want 200 text/plain", code, ctype)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("not Prometheus text format: %v", err)
	}
	value := func(name string, labels ...string) (float64, bool) {
		mf := families[name]
		if mf == nil {
			return 0, false
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
		return 0, false
	}
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"posagent_payments", []string{"state", "pending"}, 1},
		{"posagent_payments", []string{"state", "cancelling"}, 1},
		{"posagent_payments", []string{"state", "undelivered"}, 1},
		{"posagent_payments", []string{"state", "delivered"}, 1},
		{"posagent_payments_follow_up", nil, 1},
		{"posagent_outbox_size", nil, 1},
		{"posagent_oldest_pending_age_seconds", nil, 600},
		{"posagent_store_open", nil, 1},
		{"posagent_link_up", []string{"port", "auto"}, 1},
		{"posagent_frames_total", []string{"direction", "in"}, 40},
		{"posagent_frames_total", []string{"direction", "out"}, 38},
		{"posagent_naks_total", []string{"direction", "in"}, 1},
		{"posagent_naks_total", []string{"direction", "out"}, 2},
		{"posagent_resends_total", nil, 3},
		{"posagent_alipay_reachable", nil, 1},
		{"posagent_alipay_operator_problem", nil, 0},
		{"posagent_alipay_calls_total", []string{"call", "inquiry", "outcome", "ok"}, 1},
		{"posagent_alipay_calls_total", []string{"call", "inquiry", "outcome", "network"}, 1},
		{"posagent_alipay_calls_total", []string{"call", "cancel", "outcome", "ok"}, 1},
		{"posagent_alipay_call_duration_seconds", []string{"call", "inquiry"}, 2},
		{"posagent_alipay_call_duration_seconds", []string{"call", "cancel"}, 1},
		{"posagent_start_time_seconds", nil, float64(t0.Add(-3 * time.Hour).Unix())},
		{"posagent_build_info", []string{"version", "1.2.3"}, 1},
	}
	for _, tt := range tests {
		got, ok := value(tt.name, tt.labels...)
		if !ok || got != tt.want {
			t.Errorf("%s%q = %v (found %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	if _, ok := families["go_goroutines"]; !ok {
		t.Error("the Go runtime metrics are missing")
	}
}

func TestPageShowsPendingAndUndeliveredPayments(t *testing.T) {
	f := newFixture(t)
	code, ctype, body := get(t, f.server(), "/")
	if code != 200 || ctype != "text/html; charset=utf-8" {
		t.Fatalf("code %d, Content-Type %q; want 200 text/html", code, ctype)
	}
	for _, want := range []string{
		`<meta http-equiv="refresh" content="5">`,
		`id="version">1.2.3<`,
		"up 3h 0m",
		`<span class="badge ok">UP</span>`,
		"<code>auto</code> → <code>/dev/ttyUSB0</code>",
		"0403:6001:A10K1234",
		"https://open-sea-global.alipay.com",
		`<span class="badge ok">REACHABLE</span>`,
		"dial tcp: connection refused",
		`data-req="pos-pending-1"`,
		`data-req="pos-cancelling-2"`,
		`data-req="pos-undelivered-3"`,
		"1 pending, 1 cancelling, 1 undelivered, 1 delivered",
		"10m 0s", // the age of pos-pending-1
		"PROCESSING",
		"error: connection refused", // its audit trail
		"TIMEOUT",
		"2026113011112800100",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "pos-delivered-4") {
		t.Error("page shows a delivered payment among the pending and undelivered ones")
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://fonts") || strings.Contains(body, "<script src") {
		t.Error("page loads something from outside the binary")
	}

	code, ctype, css := get(t, f.server(), "/page.css")
	if code != 200 || !strings.HasPrefix(ctype, "text/css") || !strings.Contains(css, ".badge") {
		t.Errorf("/page.css: code %d, Content-Type %q; want 200 text/css with the page's rules", code, ctype)
	}
}

func TestPageShowsProblems(t *testing.T) {
	f := newFixture(t)
	f.snap.Link = Link{Port: "/dev/ttyUSB0", Since: t0.Add(-90 * time.Second), Error: "open /dev/ttyUSB0: no such file or directory"}
	f.snap.Alipay.OperatorProblem = "INVALID_SIGNATURE: the keys or the clock are wrong"
	_, _, body := get(t, f.server(), "/")
	for _, want := range []string{
		`<span class="badge bad">DOWN</span>`,
		"Down for</dt><dd>1m 30s",
		"open /dev/ttyUSB0: no such file or directory",
		`<span class="badge bad">NEEDS ATTENTION</span>`,
		"INVALID_SIGNATURE: the keys or the clock are wrong",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}

	f.snap.Store = Store{Path: "/var/lib/posagent/posagent.db", Error: "another posagent is using it"}
	_, _, body = get(t, f.server(), "/")
	for _, want := range []string{`<span class="badge bad">CLOSED</span>`, "another posagent is using it", "No payment is waiting for Alipay."} {
		if !strings.Contains(body, want) {
			t.Errorf("page with the store closed lacks %q", want)
		}
	}
}

func TestServeAnswersOverTCPAndStopsWithTheContext(t *testing.T) {
	f := newFixture(t)
	ln, err := Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, f.server()) }()

	resp, err := http.Get(fmt.Sprintf("http://%s/healthz", ln.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Errorf("GET /healthz = %d %q, want 200 ok", resp.StatusCode, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
}

func TestListenRefusesRemoteAddressesUnlessAllowed(t *testing.T) {
	tests := []struct {
		addr        string
		allowRemote bool
		wantErr     string
	}{
		{"127.0.0.1:8765", false, ""},
		{"[::1]:8765", false, ""},
		{"localhost:8765", false, ""},
		{"0.0.0.0:8765", false, "not a loopback address"},
		{":8765", false, "not a loopback address"},
		{"192.168.1.20:8765", false, "not a loopback address"},
		{"192.168.1.20:8765", true, ""},
		{":8765", true, ""},
		{"127.0.0.1", false, "not host:port"},
		{"127.0.0.1:", false, "has no port"},
	}
	for _, tt := range tests {
		err := CheckListen(tt.addr, tt.allowRemote)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("CheckListen(%q, %v) = %v, want nil", tt.addr, tt.allowRemote, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("CheckListen(%q, %v) = %v, want an error saying %q", tt.addr, tt.allowRemote, err, tt.wantErr)
		}
	}
	if _, err := Listen("0.0.0.0:0", false); err == nil || !strings.Contains(err.Error(), "status.allow_remote") {
		t.Errorf("Listen(0.0.0.0:0) = %v, want a refusal naming status.allow_remote", err)
	}
}

func TestCallsKeepTheLastErrorsNewestFirst(t *testing.T) {
	c := NewCalls()
	for i := range 15 {
		c.Observe(Call{Kind: "inquiry", Request: fmt.Sprintf("r%d", i), Outcome: "network", At: t0.Add(time.Duration(i) * time.Second), Err: errors.New("timeout")})
	}
	c.Observe(Call{Kind: "inquiry", Request: "r15", Outcome: "operator", At: t0.Add(time.Minute), Operator: true, Answered: true, Err: errors.New("INVALID_SIGNATURE")})
	var a Alipay
	c.Fill(&a)
	if len(a.Errors) != maxCallErrors || a.Errors[0].Request != "r15" || a.Errors[maxCallErrors-1].Request != "r6" {
		t.Errorf("errors = %+v, want r15 down to r6", a.Errors)
	}
	if a.OperatorProblem != "INVALID_SIGNATURE" {
		t.Errorf("operator problem = %q, want INVALID_SIGNATURE", a.OperatorProblem)
	}

	c.Observe(Call{Kind: "inquiry", Request: "r16", Outcome: "ok", At: t0.Add(2 * time.Minute), Answered: true})
	c.Fill(&a)
	if a.OperatorProblem != "" || !a.Reachable || !a.LastCall.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("after a good call: operator %q, reachable %v, last %v; want cleared, true, %v", a.OperatorProblem, a.Reachable, a.LastCall, t0.Add(2*time.Minute))
	}
}

func TestStatusShowsASalvageOnThePageTheAPIAndTheMetrics(t *testing.T) {
	f := newFixture(t)
	f.snap.Store.Salvages = []Salvage{{
		Time: t0.Add(-time.Hour), MovedTo: "/var/lib/posagent/posagent.db.corrupt-20261130T080000Z",
		Problem: "integrity check failed: page 7 calls itself page 9", Saved: 41,
		Recovered: []string{"pos-pending-1"}, Lost: []string{"pos-gone-5", "pos-gone-6"}, LostCount: 2,
		Report: "the store was salvaged",
	}}
	_, _, body := get(t, f.server(), "/")
	for _, want := range []string{
		`<span class="badge warn">SALVAGED</span>`,
		"41 payments saved, 1 unfinished ones flagged for follow-up (<code>pos-pending-1</code>",
		"2 lost (<code>pos-gone-5</code> <code>pos-gone-6</code>",
		"<code>/var/lib/posagent/posagent.db.corrupt-20261130T080000Z</code>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}

	_, _, body = get(t, f.server(), "/api/status")
	var st struct {
		Store Store `json:"store"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Store.Salvages) != 1 || st.Store.Salvages[0].MovedTo != f.snap.Store.Salvages[0].MovedTo || st.Store.Salvages[0].LostCount != 2 {
		t.Errorf("/api/status store.salvages = %+v; want the salvage", st.Store.Salvages)
	}

	_, _, body = get(t, f.server(), "/metrics")
	for _, want := range []string{"\nposagent_store_salvaged 1\n", "\nposagent_store_lost_payments 2\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", strings.TrimSpace(want))
		}
	}
}
