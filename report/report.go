package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/queue"
)

// Report is the day at a terminal: the payments accepted on Day, totalled
// by currency, with the ones that still need something listed one by one.
type Report struct {
	Day  string    `json:"day"`  // YYYY-MM-DD
	Zone string    `json:"zone"` // the time zone's name at the day's start
	From time.Time `json:"from"` // the day's first instant, in its zone
	To   time.Time `json:"to"`   // the next day's first instant, not included
	// Payments counts the payments accepted on the day, final or not.
	Payments int `json:"payments"`
	// Currencies holds the totals of each currency the day's payments
	// were made in, by currency code.
	Currencies []Totals `json:"currencies"`
	// Open lists the payments not final yet (PENDING, CANCELLING).
	Open []Line `json:"open"`
	// FollowUp lists the payments flagged for a person, with why.
	FollowUp []Line `json:"followUp"`
	// Undelivered lists the final payments whose result the register has
	// not confirmed with DONE: they are still in the outbox.
	Undelivered []Line `json:"undelivered"`
}

// Totals are the day's sums in one currency. A final payment counts in
// the sum of its final state, and also in FollowUp or Undelivered when it
// is flagged or unconfirmed; an open one counts in Open, and in FollowUp
// when flagged.
type Totals struct {
	Currency    string `json:"currency"`
	Success     Sum    `json:"success"`
	Fail        Sum    `json:"fail"`
	Cancelled   Sum    `json:"cancelled"`
	Open        Sum    `json:"open"`
	FollowUp    Sum    `json:"followUp"`
	Undelivered Sum    `json:"undelivered"`
}

// Sum is a number of payments and what they come to.
type Sum struct {
	Count int `json:"count"`
	// Amount is the sum of the payments' amounts in minor units (cents
	// for USD, yen for JPY, fils for KWD).
	Amount int64 `json:"amount"`
	// Major is Amount written in the currency's main unit ("12.50"), for
	// people; for a code that is not an ISO 4217 currency in use, it is
	// the minor units as they are.
	Major string `json:"major"`
}

// add counts one payment of amt minor units into s. It refuses a sum past
// what an int64 holds, which only amounts no register can send reach.
func (s *Sum) add(amt int64, cur string) error {
	if amt > 0 && s.Amount > math.MaxInt64-amt || amt < 0 && s.Amount < math.MinInt64-amt {
		return fmt.Errorf("the %s total is beyond what can be added up; a stored amount is wrong: look for it with posagent queue list", cur)
	}
	s.Count++
	s.Amount += amt
	return nil
}

// Line is one payment as the report lists it.
type Line struct {
	RequestID  string      `json:"req"`
	PaymentID  string      `json:"pid,omitempty"` // Alipay's paymentId, where known
	Lane       string      `json:"lane,omitempty"`
	Amount     int64       `json:"amount"` // minor units
	Currency   string      `json:"currency"`
	Major      string      `json:"major"` // Amount in the main unit, for people
	State      queue.State `json:"state"`
	Code       string      `json:"code,omitempty"`     // the result code of a final payment
	AcceptedAt time.Time   `json:"acceptedAt"`         // in the day's zone
	FollowUp   string      `json:"followUp,omitempty"` // why a person must look at it
}

// Payments is where Read reads the stored payments: status.Reader, which
// reads the store file or a running agent's status endpoint a page at a
// time.
type Payments interface {
	Each(ctx context.Context, f queue.Filter, fn func(*queue.Payment) error) error
}

// errDayEnd stops Read's listing at the first payment after the day.
var errDayEnd = errors.New("past the end of the day")

// Read reads the payments accepted on day from src and makes the day's
// report. It lists them oldest first from the day's start, by the store's
// index by acceptance time, and stops at the first accepted after the day:
// the cost is that of the day's payments, not of the store's.
func Read(ctx context.Context, src Payments, day Day) (*Report, error) {
	var ps []queue.Payment
	err := src.Each(ctx, queue.Filter{Since: day.Start, Oldest: true}, func(p *queue.Payment) error {
		if !p.AcceptedAt.Before(day.End) {
			return errDayEnd
		}
		ps = append(ps, *p)
		return nil
	})
	if err != nil && !errors.Is(err, errDayEnd) {
		return nil, fmt.Errorf("cannot read the stored payments: %w", err)
	}
	return Build(ps, day)
}

// Build makes the report of day from ps, leaving out the payments that
// were not accepted on day. Lines are listed in the order the payments
// were accepted. The only error is a total too large to add up.
func Build(ps []queue.Payment, day Day) (*Report, error) {
	loc := day.Start.Location()
	r := &Report{Day: day.Date, Zone: day.Zone(), From: day.Start, To: day.End,
		Currencies: []Totals{}, Open: []Line{}, FollowUp: []Line{}, Undelivered: []Line{}}
	var mine []queue.Payment
	for _, p := range ps {
		if day.Contains(p.AcceptedAt) {
			mine = append(mine, p)
		}
	}
	slices.SortStableFunc(mine, func(a, b queue.Payment) int {
		return cmp.Or(a.AcceptedAt.Compare(b.AcceptedAt), cmp.Compare(a.RequestID, b.RequestID))
	})
	byCur := map[string]*Totals{}
	for _, p := range mine {
		t := byCur[p.Currency]
		if t == nil {
			t = &Totals{Currency: p.Currency}
			byCur[p.Currency] = t
		}
		line := Line{
			RequestID: p.RequestID, PaymentID: p.AlipayID(), Lane: p.Lane,
			Amount: p.Amount, Currency: p.Currency, Major: major(p.Amount, p.Currency),
			State: p.State, Code: p.Result.Code, AcceptedAt: p.AcceptedAt.In(loc), FollowUp: p.FollowUp,
		}
		var sums []*Sum
		switch p.State {
		case queue.Success:
			sums = append(sums, &t.Success)
		case queue.Fail:
			sums = append(sums, &t.Fail)
		case queue.Cancelled:
			sums = append(sums, &t.Cancelled)
		default:
			sums = append(sums, &t.Open)
			r.Open = append(r.Open, line)
		}
		if p.FollowUp != "" {
			sums = append(sums, &t.FollowUp)
			r.FollowUp = append(r.FollowUp, line)
		}
		if p.State.Final() && !p.Delivered() {
			sums = append(sums, &t.Undelivered)
			r.Undelivered = append(r.Undelivered, line)
		}
		for _, s := range sums {
			if err := s.add(p.Amount, p.Currency); err != nil {
				return nil, err
			}
		}
		r.Payments++
	}
	for _, t := range byCur {
		for _, s := range t.sums() {
			s.Major = major(s.Amount, t.Currency)
		}
		r.Currencies = append(r.Currencies, *t)
	}
	slices.SortFunc(r.Currencies, func(a, b Totals) int { return cmp.Compare(a.Currency, b.Currency) })
	return r, nil
}

// sums lists t's sums in the order the report shows them, the order of
// sumNames.
func (t *Totals) sums() []*Sum {
	return []*Sum{&t.Success, &t.Fail, &t.Cancelled, &t.Open, &t.FollowUp, &t.Undelivered}
}

// major writes amt minor units of cur in the main unit, without the code.
func major(amt int64, cur string) string {
	if amt < 0 { // no register sends one; written as it is
		return strconv.FormatInt(amt, 10)
	}
	a := alipay.Amount{Currency: cur, Value: strconv.FormatInt(amt, 10)}
	s := a.FormatMajor()
	return s[:len(s)-len(cur)-1]
}
