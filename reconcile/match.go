package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/queue"
)

// Kind is what a finding says about one payment.
type Kind string

// The kinds of finding, in the order they are listed. The first three are
// discrepancies, which need a person; the others are for information.
const (
	// PaidNotSuccess: Alipay reports a PAYMENT, with no CANCEL or REFUND,
	// of a payment the store has as FAIL, CANCELLED or not final, or does
	// not have at all. Money was taken for a sale the register shows
	// unpaid.
	PaidNotSuccess Kind = "paid_not_success"
	// SuccessNotPaid: the store has the payment SUCCESS, and the reports
	// have no PAYMENT of it within their period, or a CANCEL of it.
	SuccessNotPaid Kind = "success_not_paid"
	// AmountDiffers: Alipay's PAYMENT is of another amount or currency
	// than the register's PAY.
	AmountDiffers Kind = "amount_differs"
	// CancelledRefunded: not SUCCESS here; Alipay took the money and gave
	// it back (a PAYMENT with a CANCEL or REFUND).
	CancelledRefunded Kind = "cancelled_refunded"
	// Refunded: SUCCESS here and paid at Alipay, then refunded there.
	Refunded Kind = "refunded"
	// NotCovered: a payment here after the period the reports cover,
	// for a later report to confirm.
	NotCovered Kind = "not_covered"
)

// Kinds lists every Kind in the order findings are listed.
func Kinds() []Kind {
	return []Kind{PaidNotSuccess, SuccessNotPaid, AmountDiffers, CancelledRefunded, Refunded, NotCovered}
}

// Discrepancy reports whether a finding of kind k needs a person.
func (k Kind) Discrepancy() bool {
	return k == PaidNotSuccess || k == SuccessNotPaid || k == AmountDiffers
}

// Title is k in a few words, for people.
func (k Kind) Title() string {
	switch k {
	case PaidNotSuccess:
		return "paid at Alipay, not SUCCESS here"
	case SuccessNotPaid:
		return "SUCCESS here, not paid at Alipay"
	case AmountDiffers:
		return "amount or currency differs"
	case CancelledRefunded:
		return "not paid here, refunded at Alipay (information)"
	case Refunded:
		return "SUCCESS here, refunded at Alipay since (information)"
	case NotCovered:
		return "after the reports' period, not yet covered (information)"
	}
	return string(k)
}

// Finding is one thing the comparison found about one payment.
type Finding struct {
	Kind      Kind   `json:"kind"`
	RequestID string `json:"req"`
	PaymentID string `json:"pid,omitempty"`
	// State is the store's state of the payment, empty when the store
	// does not have it.
	State queue.State `json:"state,omitempty"`
	// Amount is the register's amount; nil when the store does not have
	// the payment.
	Amount *alipay.Amount `json:"amount,omitempty"`
	// Alipay lists the transactions the reports hold for the payment, such
	// as "PAYMENT+REFUND"; empty when they hold none.
	Alipay string `json:"alipay,omitempty"`
	// AlipayAmount is the amount of Alipay's PAYMENT, in minor units.
	AlipayAmount *alipay.Amount `json:"alipay_amount,omitempty"`
	// Time is when the payment was made: Alipay's time where the reports
	// have one, else the store's.
	Time time.Time `json:"time"`
	// Rows are the report lines it rests on, as FILE:LINE.
	Rows []string `json:"rows,omitempty"`
	// Action says what it means and what to do, in one sentence.
	Action string `json:"action"`
}

// Result is the outcome of Match.
type Result struct {
	Files []string  `json:"files"`
	From  time.Time `json:"from"` // the period compared, From included
	To    time.Time `json:"to"`   // and To not
	Rows  int       `json:"rows"` // report rows read, of every type
	// Other counts the rows of transaction types not compared
	// (AUTHORIZATION, CAPTURE, DISPUTE...).
	Other int `json:"other"`
	// Unlinked counts the CANCEL and REFUND rows that name a payment
	// neither the reports nor the store know.
	Unlinked int `json:"unlinked"`
	// Elsewhere counts the report rows of payments whose request id lacks
	// Options.RequestPrefix: another terminal's.
	Elsewhere int `json:"elsewhere"`
	// Matched counts the payments compared on which both sides agree.
	Matched  int       `json:"matched"`
	Findings []Finding `json:"findings"`
}

// Counts returns the number of findings of every kind, zero ones
// included.
func (r *Result) Counts() map[Kind]int {
	c := map[Kind]int{}
	for _, k := range Kinds() {
		c[k] = 0
	}
	for _, f := range r.Findings {
		c[f.Kind]++
	}
	return c
}

// Discrepancies counts the findings that need a person.
func (r *Result) Discrepancies() int {
	n := 0
	for _, f := range r.Findings {
		if f.Kind.Discrepancy() {
			n++
		}
	}
	return n
}

// Summary is r as the store keeps it for the status page, made at now.
func (r *Result) Summary(now time.Time) queue.Reconciliation {
	counts := map[string]int{}
	for k, n := range r.Counts() {
		counts[string(k)] = n
	}
	return queue.Reconciliation{
		Time: now, Files: slices.Clone(r.Files), From: r.From, To: r.To, Rows: r.Rows,
		Matched: r.Matched, Discrepancies: r.Discrepancies(), Counts: counts,
	}
}

// Payments is where Match reads the stored payments: status.Reader,
// which reads the store file or a running agent's status endpoint.
type Payments interface {
	List(ctx context.Context, f queue.Filter) ([]queue.Payment, error)
	Get(ctx context.Context, req string) (queue.Payment, error)
}

// Options adjust Match.
type Options struct {
	// From and To set the period the reports cover; where zero, it runs
	// from the start of the day (UTC+8, Antom's transaction day) of the
	// reports' first transaction to the end of the day of their last.
	From, To time.Time
	// RequestPrefix, when not empty, restricts the comparison to the
	// payments whose request id (the PAY's req) starts with it: on a
	// merchant account that several terminals share, the reports hold
	// every terminal's payments and the store only this one's, so the
	// others would all seem paid at Alipay and unknown here.
	RequestPrefix string
}

// ErrNoPeriod is returned by Match for reports without a transaction and
// no period given: nothing says which payments they cover.
var ErrNoPeriod = errors.New("the reports hold no transaction, so they do not say which days they cover; give -from and -to")

// ErrBadPeriod is returned by Match for a period that ends before it
// begins.
var ErrBadPeriod = errors.New("the period is empty; give -from before -to")

// lookBack is how long before the period Match reads payments accepted,
// so that one accepted before the period and paid within it is found
// without asking for it alone.
const lookBack = 24 * time.Hour

// Match compares the reports with the payments in store and returns what
// it found. Report rows are matched to payments by transactionRequestId
// (the PAY's req); a CANCEL or REFUND by the payment it names
// (originalTransactionRequestId, else originalTransactionId as the
// paymentId). Payments the store has within the period are checked
// against the reports as well, and those after it are listed as not yet
// covered. An error is returned only when the period is unknown or the
// store cannot be read.
func Match(ctx context.Context, reports []*Report, store Payments, opts Options) (*Result, error) {
	res := &Result{Findings: []Finding{}}
	var rows []Row
	seen := map[string]bool{}
	for _, rep := range reports {
		res.Files = append(res.Files, rep.Path)
		res.Rows += len(rep.Rows) + rep.Other
		res.Other += rep.Other
		for _, r := range rep.Rows {
			// The same transaction in two reports (a transaction report
			// and a settlement report) is one transaction; if they
			// disagree on its amount, both are kept and compared.
			key := r.Type + "\x00" + r.TransactionID + "\x00" + r.Amount.Currency + "\x00" + r.Amount.Value
			if r.TransactionID != "" && seen[key] {
				continue
			}
			seen[key] = true
			rows = append(rows, r)
		}
	}
	if err := period(res, rows, opts); err != nil {
		return nil, err
	}

	since := res.From.Add(-lookBack)
	listed, err := store.List(ctx, queue.Filter{Since: since})
	if err != nil {
		return nil, fmt.Errorf("cannot read the stored payments: %w", err)
	}
	byPID := map[string]string{} // paymentId -> request id
	for _, r := range rows {
		if r.Type == TypePayment && r.TransactionID != "" {
			byPID[r.TransactionID] = r.RequestID
		}
	}
	addPIDs(byPID, listed)
	if unresolved(rows, byPID) {
		// A cancel or refund of a payment made before the period: only
		// its paymentId names it, and the store is searched by request
		// id, so every older payment is read once.
		older, err := store.List(ctx, queue.Filter{})
		if err != nil {
			return nil, fmt.Errorf("cannot read the stored payments: %w", err)
		}
		addPIDs(byPID, older)
	}
	payments := map[string]*queue.Payment{}
	for i := range listed {
		payments[listed[i].RequestID] = &listed[i]
	}

	views := map[string]*view{}
	var order []string
	for _, r := range rows {
		req := owner(r, byPID)
		if req == "" {
			res.Unlinked++
			continue
		}
		if !strings.HasPrefix(req, opts.RequestPrefix) {
			res.Elsewhere++
			continue
		}
		v := views[req]
		if v == nil {
			v = &view{}
			views[req] = v
			order = append(order, req)
		}
		v.add(r)
	}

	for _, req := range order {
		p, known := payments[req]
		if !known {
			got, err := store.Get(ctx, req)
			switch {
			case err == nil:
				p, known = &got, true
			case !errors.Is(err, queue.ErrNotFound):
				return nil, fmt.Errorf("cannot read payment %q: %w", req, err)
			}
		}
		compare(res, req, views[req], p)
	}
	for _, p := range listed {
		if views[p.RequestID] != nil {
			continue
		}
		t := paidAt(&p)
		switch {
		case !t.Before(res.To):
			res.Findings = append(res.Findings, finding(NotCovered, &p, nil, t,
				"made after the period the reports cover; reconcile it with a later report"))
		case t.Before(res.From):
		case p.State == queue.Success:
			res.Findings = append(res.Findings, finding(SuccessNotPaid, &p, nil, t,
				"the register shows this sale paid but the reports hold no payment of it: look it up in the Antom portal and collect the sale again if Alipay has no payment"))
		case p.State.Final():
			res.Matched++ // no money on either side
		}
	}
	slices.SortStableFunc(res.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(slices.Index(Kinds(), a.Kind), slices.Index(Kinds(), b.Kind)),
			a.Time.Compare(b.Time), strings.Compare(a.RequestID, b.RequestID))
	})
	return res, nil
}

// period sets res.From and res.To from opts, else from the rows' days.
func period(res *Result, rows []Row, opts Options) error {
	res.From, res.To = opts.From, opts.To
	var first, last time.Time
	for _, r := range rows {
		if first.IsZero() || r.Time.Before(first) {
			first = r.Time
		}
		if last.IsZero() || r.Time.After(last) {
			last = r.Time
		}
	}
	if (res.From.IsZero() || res.To.IsZero()) && first.IsZero() {
		return ErrNoPeriod
	}
	if res.From.IsZero() {
		y, m, d := first.In(antomZone).Date()
		res.From = time.Date(y, m, d, 0, 0, 0, 0, antomZone)
	}
	if res.To.IsZero() {
		y, m, d := last.In(antomZone).Date()
		res.To = time.Date(y, m, d+1, 0, 0, 0, 0, antomZone)
	}
	if !res.From.Before(res.To) {
		return fmt.Errorf("from %s to %s: %w", res.From.Format(time.RFC3339), res.To.Format(time.RFC3339), ErrBadPeriod)
	}
	return nil
}

// addPIDs adds the payment ids of ps to byPID.
func addPIDs(byPID map[string]string, ps []queue.Payment) {
	for i := range ps {
		for _, pid := range []string{ps[i].PaymentID, ps[i].Result.PaymentID} {
			if pid != "" {
				byPID[pid] = ps[i].RequestID
			}
		}
	}
}

// unresolved reports whether a row names its payment only by a payment id
// byPID does not know.
func unresolved(rows []Row, byPID map[string]string) bool {
	for _, r := range rows {
		named := r.OriginalRequestID != "" || (r.Type == TypeCancel && r.RequestID != "")
		if r.Type != TypePayment && !named && r.OriginalID != "" && byPID[r.OriginalID] == "" {
			return true
		}
	}
	return false
}

// owner is the request id of the payment row r is about, or "" when
// neither the reports nor the store know it.
func owner(r Row, byPID map[string]string) string {
	if r.Type == TypePayment {
		return r.RequestID
	}
	if r.OriginalRequestID != "" {
		return r.OriginalRequestID
	}
	if req := byPID[r.OriginalID]; req != "" {
		return req
	}
	if r.Type == TypeCancel {
		return r.RequestID // a cancel carries the payment's own request id
	}
	return "" // a refund's request id is the refund's
}

// view is what the reports hold about one payment.
type view struct {
	payments, cancels, refunds []Row
}

func (v *view) add(r Row) {
	switch r.Type {
	case TypePayment:
		v.payments = append(v.payments, r)
	case TypeCancel:
		v.cancels = append(v.cancels, r)
	case TypeRefund:
		v.refunds = append(v.refunds, r)
	}
}

// types is what the view holds, as "PAYMENT+REFUND".
func (v *view) types() string {
	var ts []string
	for _, s := range []struct {
		name string
		rows []Row
	}{{TypePayment, v.payments}, {TypeCancel, v.cancels}, {TypeRefund, v.refunds}} {
		for range s.rows {
			ts = append(ts, s.name)
		}
	}
	return strings.Join(ts, "+")
}

// rows are the report lines of the view.
func (v *view) rows() []string {
	var out []string
	for _, rs := range [][]Row{v.payments, v.cancels, v.refunds} {
		for _, r := range rs {
			out = append(out, r.File+":"+strconv.Itoa(r.Line))
		}
	}
	return out
}

// time is Alipay's time of the payment: of its PAYMENT, else of the first
// row.
func (v *view) time() time.Time {
	for _, rs := range [][]Row{v.payments, v.cancels, v.refunds} {
		if len(rs) > 0 {
			return rs[0].Time
		}
	}
	return time.Time{}
}

// compare adds what the reports' view v of payment req says against the
// stored payment p (nil when the store does not have it).
func compare(res *Result, req string, v *view, p *queue.Payment) {
	paid := len(v.payments) > 0
	reversed := len(v.cancels)+len(v.refunds) > 0
	success := p != nil && p.State == queue.Success
	add := func(k Kind, pay *Row, action string) {
		f := finding(k, p, pay, v.time(), action)
		f.RequestID, f.Alipay, f.Rows = req, v.types(), v.rows()
		if f.PaymentID == "" && paid {
			f.PaymentID = v.payments[0].TransactionID
		}
		res.Findings = append(res.Findings, f)
	}
	before := res.Discrepancies()
	switch {
	case paid && !reversed && !success:
		add(PaidNotSuccess, &v.payments[0], unpaidAction(p))
	case success && len(v.cancels) > 0:
		add(SuccessNotPaid, nil, "the register shows this sale paid but Alipay cancelled the payment and returned the money: collect the sale again or record the loss")
	case success && len(v.refunds) > 0:
		add(Refunded, nil, "paid here and refunded in the Antom portal since: nothing to do if the goods came back")
	case !success && paid && reversed:
		add(CancelledRefunded, &v.payments[0], "not paid here and Alipay gave the money back: nothing to do")
	}
	if p != nil {
		here := alipay.Amount{Currency: p.Currency, Value: strconv.FormatInt(p.Amount, 10)}
		for i := range v.payments {
			if pay := &v.payments[i]; !pay.Amount.Equal(here) {
				add(AmountDiffers, pay, fmt.Sprintf("the register asked for %s and Alipay took %s: refund or collect the difference in the Antom portal", here.FormatMajor(), pay.Amount.FormatMajor()))
			}
		}
	}
	if res.Discrepancies() == before {
		res.Matched++
	}
}

// unpaidAction says what to do about money taken for a payment p the
// store does not have SUCCESS (nil: not at all).
func unpaidAction(p *queue.Payment) string {
	const refund = "Alipay took the money for a sale the register shows unpaid: refund it in the Antom portal, or record the sale"
	switch {
	case p == nil:
		return "no such payment is stored here (another terminal's, or one pruned): " + refund
	case !p.State.Final():
		return "still " + string(p.State) + " here, so the register may yet show it paid; run again once it is final, else: " + refund
	}
	return refund
}

// finding is a finding of kind k about the stored payment p (nil when
// there is none) and Alipay's PAYMENT row pay (nil when there is none).
func finding(k Kind, p *queue.Payment, pay *Row, t time.Time, action string) Finding {
	f := Finding{Kind: k, Time: t, Action: action}
	if p != nil {
		f.RequestID, f.State = p.RequestID, p.State
		f.PaymentID = cmp.Or(p.PaymentID, p.Result.PaymentID)
		f.Amount = &alipay.Amount{Currency: p.Currency, Value: strconv.FormatInt(p.Amount, 10)}
	}
	if pay != nil {
		f.AlipayAmount = &pay.Amount
	}
	return f
}

// paidAt is when the stored payment p was made, as the reports would date
// it: Alipay's payment time for a SUCCESS where the answer gave one, else
// when it ended; for any other payment, when it was accepted.
func paidAt(p *queue.Payment) time.Time {
	if p.State != queue.Success {
		return p.AcceptedAt
	}
	if t, err := time.Parse(time.RFC3339, p.Result.Time); err == nil {
		return t
	}
	if !p.FinishedAt.IsZero() {
		return p.FinishedAt
	}
	return p.AcceptedAt
}
