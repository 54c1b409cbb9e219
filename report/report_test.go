package report

import (
	"context"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/queue"
)

// day30 is 2026-11-30 in UTC+8: from 2026-11-29T16:00Z to 2026-11-30T16:00Z.
var day30 = DayOf(time.Date(2026, 11, 30, 12, 0, 0, 0, cst), cst)

// at is a local time of 2026-11-30 in UTC+8, shifted by days.
func at(days int, hour, min, sec int) time.Time {
	return time.Date(2026, 11, 30+days, hour, min, sec, 0, cst).UTC()
}

// pay is a stored payment accepted at when, in state st; delivered final
// payments have a DeliveredAt, as after the register's DONE.
type pay struct {
	req       string
	amt       int64
	cur       string
	when      time.Time
	st        queue.State
	undeliver bool   // final, but no DONE yet
	flag      string // follow-up reason
}

func (p pay) payment() queue.Payment {
	q := queue.Payment{RequestID: p.req, Amount: p.amt, Currency: p.cur, AcceptedAt: p.when, State: p.st, FollowUp: p.flag, Lane: "2"}
	if p.st.Final() {
		q.FinishedAt = p.when.Add(30 * time.Second)
		q.Result = queue.Result{Status: p.st}
		if !p.undeliver {
			q.DeliveredAt = q.FinishedAt.Add(time.Second)
		}
	}
	return q
}

func TestBuildTotals(t *testing.T) {
	noon := at(0, 12, 0, 0)
	tests := []struct {
		name     string
		payments []pay
		count    int
		want     []Totals
		open     []string // request ids, in acceptance order
		followUp []string
		undeliv  []string
	}{
		{name: "a day with nothing"},
		{
			name: "each final status",
			payments: []pay{
				{"s1", 1250, "USD", noon, queue.Success, false, ""},
				{"s2", 99, "USD", noon.Add(time.Minute), queue.Success, false, ""},
				{"f1", 500, "USD", noon, queue.Fail, false, ""},
				{"c1", 700, "USD", noon, queue.Cancelled, false, ""},
			},
			count: 4,
			want: []Totals{{Currency: "USD",
				Success:   Sum{2, 1349, "13.49"},
				Fail:      Sum{1, 500, "5.00"},
				Cancelled: Sum{1, 700, "7.00"},
				Open:      Sum{0, 0, "0.00"}, FollowUp: Sum{0, 0, "0.00"}, Undelivered: Sum{0, 0, "0.00"}}},
		},
		{
			name: "currencies without and with three minor digits",
			payments: []pay{
				{"j1", 1500, "JPY", noon, queue.Success, false, ""},
				{"j2", 1, "JPY", noon, queue.Fail, false, ""},
				{"k1", 1250, "KWD", noon, queue.Success, false, ""},
				{"k2", 5, "KWD", noon, queue.Success, false, ""},
				{"k3", 1000, "KWD", noon, queue.Cancelled, false, ""},
			},
			count: 5,
			want: []Totals{
				{Currency: "JPY", Success: Sum{1, 1500, "1500"}, Fail: Sum{1, 1, "1"}, Cancelled: Sum{0, 0, "0"},
					Open: Sum{0, 0, "0"}, FollowUp: Sum{0, 0, "0"}, Undelivered: Sum{0, 0, "0"}},
				{Currency: "KWD", Success: Sum{2, 1255, "1.255"}, Fail: Sum{0, 0, "0.000"}, Cancelled: Sum{1, 1000, "1.000"},
					Open: Sum{0, 0, "0.000"}, FollowUp: Sum{0, 0, "0.000"}, Undelivered: Sum{0, 0, "0.000"}},
			},
		},
		{
			name: "several currencies, listed by code",
			payments: []pay{
				{"u1", 1000, "USD", noon, queue.Success, false, ""},
				{"e1", 990, "EUR", noon, queue.Success, false, ""},
				{"j1", 300, "JPY", noon, queue.Success, false, ""},
				{"e2", 10, "EUR", noon, queue.Success, false, ""},
			},
			count: 4,
			want: []Totals{
				{Currency: "EUR", Success: Sum{2, 1000, "10.00"}, Fail: Sum{0, 0, "0.00"}, Cancelled: Sum{0, 0, "0.00"}, Open: Sum{0, 0, "0.00"}, FollowUp: Sum{0, 0, "0.00"}, Undelivered: Sum{0, 0, "0.00"}},
				{Currency: "JPY", Success: Sum{1, 300, "300"}, Fail: Sum{0, 0, "0"}, Cancelled: Sum{0, 0, "0"}, Open: Sum{0, 0, "0"}, FollowUp: Sum{0, 0, "0"}, Undelivered: Sum{0, 0, "0"}},
				{Currency: "USD", Success: Sum{1, 1000, "10.00"}, Fail: Sum{0, 0, "0.00"}, Cancelled: Sum{0, 0, "0.00"}, Open: Sum{0, 0, "0.00"}, FollowUp: Sum{0, 0, "0.00"}, Undelivered: Sum{0, 0, "0.00"}},
			},
		},
		{
			name: "open payments count apart from the final ones",
			payments: []pay{
				{"p2", 400, "USD", noon.Add(time.Minute), queue.Cancelling, false, ""},
				{"p1", 300, "USD", noon, queue.Pending, false, ""},
				{"s1", 100, "USD", noon, queue.Success, false, ""},
			},
			count: 3,
			want: []Totals{{Currency: "USD", Success: Sum{1, 100, "1.00"}, Fail: Sum{0, 0, "0.00"}, Cancelled: Sum{0, 0, "0.00"},
				Open: Sum{2, 700, "7.00"}, FollowUp: Sum{0, 0, "0.00"}, Undelivered: Sum{0, 0, "0.00"}}},
			open: []string{"p1", "p2"},
		},
		{
			name: "flagged payments, final and open",
			payments: []pay{
				{"f1", 900, "USD", noon, queue.Fail, false, "Alipay has no record of this payment"},
				{"p1", 250, "USD", noon.Add(time.Second), queue.Pending, false, "past Alipay's cancel window"},
				{"s1", 100, "USD", noon, queue.Success, false, ""},
			},
			count: 3,
			want: []Totals{{Currency: "USD", Success: Sum{1, 100, "1.00"}, Fail: Sum{1, 900, "9.00"}, Cancelled: Sum{0, 0, "0.00"},
				Open: Sum{1, 250, "2.50"}, FollowUp: Sum{2, 1150, "11.50"}, Undelivered: Sum{0, 0, "0.00"}}},
			open:     []string{"p1"},
			followUp: []string{"f1", "p1"},
		},
		{
			name: "results the register has not confirmed",
			payments: []pay{
				{"s1", 1250, "USD", noon, queue.Success, true, ""},
				{"c1", 700, "USD", noon.Add(time.Second), queue.Cancelled, true, ""},
				{"s2", 100, "USD", noon, queue.Success, false, ""},
			},
			count: 3,
			want: []Totals{{Currency: "USD", Success: Sum{2, 1350, "13.50"}, Fail: Sum{0, 0, "0.00"}, Cancelled: Sum{1, 700, "7.00"},
				Open: Sum{0, 0, "0.00"}, FollowUp: Sum{0, 0, "0.00"}, Undelivered: Sum{2, 1950, "19.50"}}},
			undeliv: []string{"s1", "c1"},
		},
		{
			name: "payments of the previous and the next day near midnight",
			payments: []pay{
				{"prev", 1, "USD", at(-1, 23, 59, 59).Add(999 * time.Millisecond), queue.Success, false, ""},
				{"prev-open", 1, "USD", at(-1, 23, 59, 0), queue.Pending, false, "x"},
				{"first", 10, "USD", at(0, 0, 0, 0), queue.Success, false, ""},
				{"last", 100, "USD", at(1, 0, 0, 0).Add(-time.Nanosecond), queue.Success, true, ""},
				{"next", 1000, "USD", at(1, 0, 0, 0), queue.Success, true, ""},
				{"next-open", 1000, "USD", at(1, 0, 0, 1), queue.Pending, false, ""},
				// 23:59 UTC is 07:59 the next day in UTC+8.
				{"utc-evening", 1000, "USD", time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC), queue.Success, false, ""},
				// 20:00 UTC the day before is 04:00 this day in UTC+8.
				{"utc-yesterday", 1000, "USD", time.Date(2026, 11, 29, 20, 0, 0, 0, time.UTC), queue.Fail, false, ""},
			},
			count: 3,
			want: []Totals{{Currency: "USD", Success: Sum{2, 110, "1.10"}, Fail: Sum{1, 1000, "10.00"}, Cancelled: Sum{0, 0, "0.00"},
				Open: Sum{0, 0, "0.00"}, FollowUp: Sum{0, 0, "0.00"}, Undelivered: Sum{1, 100, "1.00"}}},
			undeliv: []string{"last"},
		},
		{
			name: "a payment belongs to the day it was accepted, not finished",
			payments: []pay{
				{"late", 500, "USD", at(-1, 23, 59, 50), queue.Success, false, ""}, // finished 00:00:20
				{"night", 600, "USD", at(0, 23, 59, 50), queue.Success, false, ""}, // finished the next day
			},
			count: 1,
			want: []Totals{{Currency: "USD", Success: Sum{1, 600, "6.00"}, Fail: Sum{0, 0, "0.00"}, Cancelled: Sum{0, 0, "0.00"},
				Open: Sum{0, 0, "0.00"}, FollowUp: Sum{0, 0, "0.00"}, Undelivered: Sum{0, 0, "0.00"}}},
		},
		{
			name:     "a code that is no currency is totalled in its units",
			payments: []pay{{"x1", 12345, "XXX", noon, queue.Success, false, ""}},
			count:    1,
			want: []Totals{{Currency: "XXX", Success: Sum{1, 12345, "12345"}, Fail: Sum{0, 0, "0"}, Cancelled: Sum{0, 0, "0"},
				Open: Sum{0, 0, "0"}, FollowUp: Sum{0, 0, "0"}, Undelivered: Sum{0, 0, "0"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps []queue.Payment
			for _, p := range tt.payments {
				ps = append(ps, p.payment())
			}
			r, err := Build(ps, day30)
			if err != nil {
				t.Fatal(err)
			}
			if r.Day != "2026-11-30" || r.Zone != "CST" || !r.From.Equal(at(0, 0, 0, 0)) || !r.To.Equal(at(1, 0, 0, 0)) {
				t.Errorf("day %s %s %v to %v", r.Day, r.Zone, r.From, r.To)
			}
			if r.Payments != tt.count {
				t.Errorf("Payments = %d; want %d", r.Payments, tt.count)
			}
			want := tt.want
			if want == nil {
				want = []Totals{}
			}
			if !reflect.DeepEqual(r.Currencies, want) {
				t.Errorf("totals\n got %+v\nwant %+v", r.Currencies, want)
			}
			for _, l := range []struct {
				name  string
				lines []Line
				want  []string
			}{{"open", r.Open, tt.open}, {"follow-up", r.FollowUp, tt.followUp}, {"undelivered", r.Undelivered, tt.undeliv}} {
				var got []string
				for _, line := range l.lines {
					got = append(got, line.RequestID)
					if line.AcceptedAt.Location() != cst || !day30.Contains(line.AcceptedAt) {
						t.Errorf("%s: accepted %v; want a time of the day in its zone", line.RequestID, line.AcceptedAt)
					}
				}
				if l.lines == nil || !reflect.DeepEqual(got, l.want) {
					t.Errorf("%s lists %q; want %q (never nil)", l.name, got, l.want)
				}
			}
		})
	}
}

func TestBuildListsWhyAPaymentIsFlagged(t *testing.T) {
	p := pay{"f1", 1990, "EUR", at(0, 9, 30, 0), queue.Fail, false, "Alipay has no record of this payment"}.payment()
	p.PaymentID = "2026113000000001"
	p.Result.Code = "ORDER_NOT_EXIST"
	r, err := Build([]queue.Payment{p}, day30)
	if err != nil {
		t.Fatal(err)
	}
	want := Line{RequestID: "f1", PaymentID: "2026113000000001", Lane: "2", Amount: 1990, Currency: "EUR", Major: "19.90",
		State: queue.Fail, Code: "ORDER_NOT_EXIST", AcceptedAt: time.Date(2026, 11, 30, 9, 30, 0, 0, cst), FollowUp: "Alipay has no record of this payment"}
	if len(r.FollowUp) != 1 || !reflect.DeepEqual(r.FollowUp[0], want) {
		t.Errorf("follow-up %+v; want %+v", r.FollowUp, want)
	}
}

func TestBuildRefusesATotalBeyondInt64(t *testing.T) {
	big := pay{"b1", math.MaxInt64/2 + 1, "USD", at(0, 10, 0, 0), queue.Success, false, ""}
	big2 := big
	big2.req = "b2"
	_, err := Build([]queue.Payment{big.payment(), big2.payment()}, day30)
	if err == nil || !strings.Contains(err.Error(), "USD total") {
		t.Fatalf("err %v; want the USD total refused", err)
	}
}

// storeList reads a *queue.Store as Read does through status.Reader.
type storeList struct{ s *queue.Store }

func (l storeList) Each(_ context.Context, f queue.Filter, fn func(*queue.Payment) error) error {
	return l.s.Each(f, fn)
}

func TestReadReadsTheDayFromAStore(t *testing.T) {
	s, err := queue.Open(filepath.Join(t.TempDir(), "posagent.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, p := range []pay{
		{"before", 100, "USD", at(-1, 23, 0, 0), queue.Success, false, ""},
		{"today-1", 200, "USD", at(0, 10, 0, 0), queue.Success, false, ""},
		{"today-2", 300, "JPY", at(0, 11, 0, 0), queue.Pending, false, ""},
		{"after", 400, "USD", at(1, 1, 0, 0), queue.Success, false, ""},
	} {
		if _, _, err := s.Accept(queue.Payment{RequestID: p.req, Amount: p.amt, Currency: p.cur, AcceptedAt: p.when, Deadline: p.when.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if p.st.Final() {
			if _, err := s.Finish(p.req, queue.Result{Status: p.st}, queue.Event{Call: queue.CallInquiry}); err != nil {
				t.Fatal(err)
			}
		}
	}
	r, err := Read(context.Background(), storeList{s}, day30)
	if err != nil {
		t.Fatal(err)
	}
	if r.Payments != 2 || len(r.Currencies) != 2 || r.Currencies[1].Success != (Sum{1, 200, "2.00"}) ||
		len(r.Open) != 1 || r.Open[0].RequestID != "today-2" || len(r.Undelivered) != 1 || r.Undelivered[0].RequestID != "today-1" {
		t.Errorf("report %+v", r)
	}
}
