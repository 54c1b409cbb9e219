package reconcile

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/queue"
)

// storePayments reads a *queue.Store as Match does through status.Reader.
type storePayments struct{ s *queue.Store }

func (p storePayments) List(_ context.Context, f queue.Filter) ([]queue.Payment, error) {
	return p.s.List(f)
}
func (p storePayments) Get(_ context.Context, req string) (queue.Payment, error) { return p.s.Get(req) }

// stored is a payment as the store holds it for a test.
type stored struct {
	state    queue.State
	amount   int64
	currency string
	accepted string // RFC 3339
	paid     string // Result.Time of a final payment, RFC 3339; may be empty
	pid      string
}

// openStore opens a fresh store holding ps, keyed by request id.
func openStore(t *testing.T, ps map[string]stored) *queue.Store {
	t.Helper()
	finished := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	s, err := queue.Open(filepath.Join(t.TempDir(), "posagent.db"), queue.Options{Now: func() time.Time { return finished }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for req, p := range ps {
		at, err := time.Parse(time.RFC3339, p.accepted)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Accept(queue.Payment{RequestID: req, Amount: p.amount, Currency: p.currency, AcceptedAt: at, Deadline: at.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if p.state.Final() {
			if _, err := s.Finish(req, queue.Result{Status: p.state, PaymentID: p.pid, Time: p.paid}, queue.Event{Call: queue.CallInquiry}); err != nil {
				t.Fatal(err)
			}
		} else if p.state == queue.Cancelling {
			if err := s.StartCancel(req, "TIMEOUT", at); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

// The day the reports cover: 2026-11-30 in UTC+8, 2026-11-29T16:00Z to
// 2026-11-30T16:00Z.
const (
	morning = "2026-11-30T10:00:00+08:00"
	noon    = "2026-11-30T12:00:00+08:00"
	evening = "2026-11-30T23:59:50+08:00"
)

func TestMatchFindsEveryKind(t *testing.T) {
	usd := func(state queue.State, amount int64, pid string) stored {
		return stored{state: state, amount: amount, currency: "USD", accepted: morning, paid: noon, pid: pid}
	}
	tests := []struct {
		req  string
		here *stored // nil: not in the store
		txs  []tx
		want []Kind // findings about req, in order; none: it matched or was left aside
	}{
		{req: "pos-ok", here: new(usd(queue.Success, 1250, "P-ok")), txs: []tx{payment("pos-ok", "P-ok", "12.50", "USD", noon)}},
		{req: "pos-fail", here: new(usd(queue.Fail, 1250, "")), txs: []tx{payment("pos-fail", "P-fail", "12.50", "USD", noon)}, want: []Kind{PaidNotSuccess}},
		{req: "pos-cancelled", here: new(usd(queue.Cancelled, 1250, "")), txs: []tx{payment("pos-cancelled", "P-c", "12.50", "USD", noon)}, want: []Kind{PaidNotSuccess}},
		{req: "pos-pending", here: &stored{state: queue.Pending, amount: 1250, currency: "USD", accepted: morning}, txs: []tx{payment("pos-pending", "P-p", "12.50", "USD", noon)}, want: []Kind{PaidNotSuccess}},
		{req: "pos-cancelling", here: &stored{state: queue.Cancelling, amount: 1250, currency: "USD", accepted: morning}, txs: []tx{payment("pos-cancelling", "P-cg", "12.50", "USD", noon)}, want: []Kind{PaidNotSuccess}},
		{req: "pos-unknown", txs: []tx{payment("pos-unknown", "P-u", "12.50", "USD", noon)}, want: []Kind{PaidNotSuccess}},
		{req: "pos-fail-amount", here: new(usd(queue.Fail, 1250, "")), txs: []tx{payment("pos-fail-amount", "P-fa", "99.00", "USD", noon)}, want: []Kind{PaidNotSuccess, AmountDiffers}},
		{req: "pos-absent", here: new(usd(queue.Success, 1250, "P-abs"))},
		{req: "pos-alipay-cancelled", here: new(usd(queue.Success, 1250, "P-ac")), txs: []tx{payment("pos-alipay-cancelled", "P-ac", "12.50", "USD", noon), cancel("pos-alipay-cancelled", "P-ac", "P-ac", "12.50", "USD", noon)}, want: []Kind{SuccessNotPaid}},
		{req: "pos-amount", here: new(usd(queue.Success, 1250, "P-am")), txs: []tx{payment("pos-amount", "P-am", "12.00", "USD", noon)}, want: []Kind{AmountDiffers}},
		{req: "pos-currency", here: &stored{state: queue.Success, amount: 1250, currency: "JPY", accepted: morning, paid: noon}, txs: []tx{payment("pos-currency", "P-cu", "12.50", "USD", noon)}, want: []Kind{AmountDiffers}},
		{req: "pos-kwd", here: &stored{state: queue.Success, amount: 1250, currency: "KWD", accepted: morning, paid: noon}, txs: []tx{payment("pos-kwd", "P-kwd", "1.250", "KWD", noon)}},
		{req: "pos-jpy", here: &stored{state: queue.Success, amount: 1250, currency: "JPY", accepted: morning, paid: noon}, txs: []tx{payment("pos-jpy", "P-jpy", "1250", "JPY", noon)}},
		{req: "pos-refunded", here: new(usd(queue.Cancelled, 1250, "")), txs: []tx{payment("pos-refunded", "P-r", "12.50", "USD", noon), refund("rf-1", "R-1", "P-r", "12.50", "USD", noon)}, want: []Kind{CancelledRefunded}},
		{req: "pos-cancel-refund", here: new(usd(queue.Cancelled, 1250, "")), txs: []tx{payment("pos-cancel-refund", "P-cr", "12.50", "USD", noon), cancel("pos-cancel-refund", "P-cr", "P-cr", "12.50", "USD", noon)}, want: []Kind{CancelledRefunded}},
		{req: "pos-cancel-only", here: new(usd(queue.Cancelled, 1250, "")), txs: []tx{cancel("pos-cancel-only", "P-co", "P-co", "12.50", "USD", noon)}},
		{req: "pos-returned", here: new(usd(queue.Success, 1250, "P-ret")), txs: []tx{payment("pos-returned", "P-ret", "12.50", "USD", morning), refund("rf-2", "R-2", "P-ret", "12.50", "USD", noon)}, want: []Kind{Refunded}},
		// A refund of a payment of an earlier day, found by its paymentId
		// in the store.
		{req: "pos-returned-later", here: &stored{state: queue.Success, amount: 500, currency: "USD", accepted: "2026-11-20T10:00:00+08:00", paid: "2026-11-20T10:00:05+08:00", pid: "P-old"}, txs: []tx{refund("rf-3", "R-3", "P-old", "5.00", "USD", noon)}, want: []Kind{Refunded}},
		// Found by originalTransactionRequestId where the report has it.
		{req: "pos-refund-by-req", here: new(usd(queue.Fail, 1250, "")), txs: []tx{payment("pos-refund-by-req", "P-rq", "12.50", "USD", noon), {"transactionType": "REFUND", "transactionRequestId": "rf-4", "transactionId": "R-4", "originalTransactionRequestId": "pos-refund-by-req", "transactionAmountValue": "12.50", "transactionCurrency": "USD", "transactionTime": noon}}, want: []Kind{CancelledRefunded}},
		{req: "pos-next-day", here: &stored{state: queue.Success, amount: 1250, currency: "USD", accepted: "2026-12-01T09:00:00+08:00", paid: "2026-12-01T09:00:05+08:00"}, want: []Kind{NotCovered}},
		{req: "pos-next-day-pending", here: &stored{state: queue.Pending, amount: 1250, currency: "USD", accepted: "2026-12-01T09:00:00+08:00"}, want: []Kind{NotCovered}},
		// Accepted before midnight, paid after: the next day's report.
		{req: "pos-midnight", here: &stored{state: queue.Success, amount: 1250, currency: "USD", accepted: evening, paid: "2026-12-01T00:00:05+08:00"}, want: []Kind{NotCovered}},
		{req: "pos-failed-quietly", here: new(usd(queue.Fail, 1250, ""))},
		{req: "pos-day-before", here: &stored{state: queue.Success, amount: 1250, currency: "USD", accepted: "2026-11-29T23:00:00+08:00", paid: "2026-11-29T23:00:05+08:00"}},
		// Accepted long before the period, found by its request id alone.
		{req: "pos-long-ago", here: &stored{state: queue.Success, amount: 700, currency: "EUR", accepted: "2026-11-10T10:00:00+08:00", paid: "2026-11-10T10:00:05+08:00"}, txs: []tx{payment("pos-long-ago", "P-la", "7.00", "EUR", noon)}},
		// A refund naming a payment nobody knows.
		{req: "rf-stray", txs: []tx{refund("rf-stray", "R-9", "P-nobody", "1.00", "USD", noon)}},
	}
	tests[7].want = []Kind{SuccessNotPaid} // pos-absent

	ps := map[string]stored{}
	var txs []tx
	for _, tt := range tests {
		if tt.here != nil {
			ps[tt.req] = *tt.here
		}
		txs = append(txs, tt.txs...)
	}
	store := openStore(t, ps)
	rep, err := Read(strings.NewReader(reportText(transactionColumns, txs...)), "day.csv", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Match(context.Background(), []*Report{rep}, storePayments{store}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantFrom := time.Date(2026, 11, 29, 16, 0, 0, 0, time.UTC)
	if !res.From.Equal(wantFrom) || !res.To.Equal(wantFrom.Add(24*time.Hour)) {
		t.Errorf("period %v to %v; want the day of 2026-11-30 in UTC+8", res.From, res.To)
	}
	got := map[string][]Kind{}
	for _, f := range res.Findings {
		got[f.RequestID] = append(got[f.RequestID], f.Kind)
		if f.Action == "" || strings.Contains(f.Action, "\n") {
			t.Errorf("%s %s: action %q is not one line", f.RequestID, f.Kind, f.Action)
		}
	}
	for _, tt := range tests {
		if !slices.Equal(got[tt.req], tt.want) {
			t.Errorf("%s: found %v; want %v", tt.req, got[tt.req], tt.want)
		}
		delete(got, tt.req)
	}
	for req, kinds := range got {
		t.Errorf("unexpected findings about %s: %v", req, kinds)
	}
	if res.Unlinked != 1 {
		t.Errorf("Unlinked = %d; want 1 (the stray refund)", res.Unlinked)
	}
	// pos-ok, pos-kwd, pos-jpy, pos-refunded, pos-cancel-refund,
	// pos-cancel-only, pos-returned, pos-returned-later,
	// pos-refund-by-req, pos-failed-quietly, pos-long-ago.
	if res.Matched != 11 {
		t.Errorf("Matched = %d; want 11", res.Matched)
	}
	if n := res.Discrepancies(); n != 11 {
		t.Errorf("Discrepancies = %d; want 11", n)
	}
	var kinds []Kind
	for _, f := range res.Findings {
		kinds = append(kinds, f.Kind)
	}
	if !slices.IsSortedFunc(kinds, func(a, b Kind) int { return slices.Index(Kinds(), a) - slices.Index(Kinds(), b) }) {
		t.Errorf("findings not listed by kind: %v", kinds)
	}
}

func TestMatchAllAgree(t *testing.T) {
	store := openStore(t, map[string]stored{
		"pos-1": {state: queue.Success, amount: 1250, currency: "USD", accepted: morning, paid: noon, pid: "P-1"},
		"pos-2": {state: queue.Cancelled, amount: 300, currency: "USD", accepted: morning},
	})
	// The same payment in the transaction report and in the settlement
	// report is one payment.
	var reps []*Report
	for _, text := range []string{
		reportText(transactionColumns, payment("pos-1", "P-1", "12.50", "USD", noon)),
		reportText(settlementColumns, payment("pos-1", "P-1", "12.5", "USD", noon)),
	} {
		rep, err := Read(strings.NewReader(text), "r.csv", ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		reps = append(reps, rep)
	}
	res, err := Match(context.Background(), reps, storePayments{store}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 0 || res.Matched != 2 || res.Rows != 2 {
		t.Errorf("findings %+v, matched %d, rows %d; want none, 2, 2", res.Findings, res.Matched, res.Rows)
	}
}

// TestMatchLeavesOtherTerminalsAside: with a request prefix, the payments
// of other terminals on the same merchant account are counted aside, not
// reported as paid at Alipay and unknown here; this terminal's still are.
func TestMatchLeavesOtherTerminalsAside(t *testing.T) {
	store := openStore(t, map[string]stored{
		"lane1-1": {state: queue.Success, amount: 1250, currency: "USD", accepted: morning, paid: noon, pid: "P-1"},
	})
	rep, err := Read(strings.NewReader(reportText(transactionColumns,
		payment("lane1-1", "P-1", "12.50", "USD", noon),
		payment("lane1-2", "P-2", "3.00", "USD", noon),
		payment("lane2-1", "P-3", "4.00", "USD", noon),
		payment("lane2-2", "P-4", "5.00", "USD", noon),
	)), "r.csv", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		prefix        string
		wantElsewhere int
		wantUnpaid    []string
	}{
		{"", 0, []string{"lane1-2", "lane2-1", "lane2-2"}},
		{"lane1-", 2, []string{"lane1-2"}},
	}
	for _, tt := range tests {
		res, err := Match(context.Background(), []*Report{rep}, storePayments{store}, Options{RequestPrefix: tt.prefix})
		if err != nil {
			t.Fatal(err)
		}
		var unpaid []string
		for _, f := range res.Findings {
			if f.Kind == PaidNotSuccess {
				unpaid = append(unpaid, f.RequestID)
			}
		}
		slices.Sort(unpaid)
		if res.Elsewhere != tt.wantElsewhere || !slices.Equal(unpaid, tt.wantUnpaid) || res.Matched != 1 {
			t.Errorf("prefix %q: elsewhere %d, paid-not-success %v, matched %d; want %d, %v, 1", tt.prefix, res.Elsewhere, unpaid, res.Matched, tt.wantElsewhere, tt.wantUnpaid)
		}
	}
}

func TestMatchPeriod(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, antomZone) }
	tests := []struct {
		name     string
		txs      []tx
		opts     Options
		from, to time.Time
		wantErr  string
	}{
		{name: "one day", txs: []tx{payment("a", "1", "1.00", "USD", morning)}, from: day(30), to: day(31)},
		{name: "UTC times on the UTC+8 day", txs: []tx{payment("a", "1", "1.00", "USD", "2026-11-29T16:00:00Z"), payment("b", "2", "1.00", "USD", "2026-11-30T15:59:59Z")}, from: day(30), to: day(31)},
		{name: "several days", txs: []tx{payment("a", "1", "1.00", "USD", "2026-11-28T09:00:00+08:00"), payment("b", "2", "1.00", "USD", morning)}, from: day(28), to: day(31)},
		{name: "given", txs: []tx{payment("a", "1", "1.00", "USD", morning)}, opts: Options{From: day(29), To: day(31)}, from: day(29), to: day(31)},
		{name: "empty report with a period", opts: Options{From: day(29), To: day(30)}, from: day(29), to: day(30)},
		{name: "empty report", wantErr: "hold no transaction"},
		{name: "empty report, only from", opts: Options{From: day(29)}, wantErr: "hold no transaction"},
		{name: "from after to", txs: []tx{payment("a", "1", "1.00", "USD", morning)}, opts: Options{From: day(31), To: day(30)}, wantErr: "is empty"},
	}
	store := openStore(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Read(strings.NewReader(reportText(transactionColumns, tt.txs...)), "r.csv", ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := Match(context.Background(), []*Report{rep}, storePayments{store}, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Match: %v; want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !res.From.Equal(tt.from) || !res.To.Equal(tt.to) {
				t.Errorf("period %v to %v; want %v to %v", res.From, res.To, tt.from, tt.to)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	res := &Result{Files: []string{"a.csv"}, Rows: 3, Matched: 1, Findings: []Finding{{Kind: PaidNotSuccess}, {Kind: NotCovered}, {Kind: NotCovered}}}
	s := res.Summary(time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC))
	if s.Discrepancies != 1 || s.Counts["not_covered"] != 2 || s.Counts["amount_differs"] != 0 || len(s.Counts) != len(Kinds()) {
		t.Errorf("summary %+v", s)
	}
	if fmt.Sprint(s.Files) != "[a.csv]" || s.Rows != 3 || s.Matched != 1 {
		t.Errorf("summary %+v", s)
	}
}
