package queue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestAcceptStoresPendingAndDueAtOnce(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	got := mustAccept(t, s, newPayment(c, "pos-1"))
	if got.State != Pending || !got.NextAt.Equal(got.AcceptedAt) || got.Revision != 1 {
		t.Fatalf("new payment = %+v; want PENDING, due at acceptance, revision 1", got)
	}
	stored, err := s.Get("pos-1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stored, got) {
		t.Fatalf("Get = %+v\nAccept returned %+v", stored, got)
	}
	due, err := s.Due(c.Now(), 0)
	if err != nil || len(due) != 1 || due[0].RequestID != "pos-1" {
		t.Fatalf("Due = %v, %v; want pos-1", due, err)
	}
	mustCheck(t, s)
}

func TestAcceptRepeatedPayReturnsStoredUnchanged(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	first := mustAccept(t, s, newPayment(c, "pos-1"))
	if err := s.Record("pos-1", Event{Call: CallInquiry, ResultStatus: "S", PaymentStatus: "PROCESSING"}, c.Now().Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	stored, _ := s.Get("pos-1")
	c.Advance(time.Minute)
	again := newPayment(c, "pos-1") // later, another lane and deadline, a pid
	again.Lane, again.PaymentID = "9", "pid-new"
	got, created, err := s.Accept(again)
	if err != nil || created {
		t.Fatalf("repeated Accept = created %v, %v; want the stored payment", created, err)
	}
	if !reflect.DeepEqual(got, stored) || got.Revision != first.Revision+1 {
		t.Fatalf("repeated Accept = %+v\nwant stored %+v", got, stored)
	}
}

func TestAcceptConflicts(t *testing.T) {
	tests := []struct {
		name     string
		storedID string // paymentId given with the first PAY
		change   func(p *Payment)
		conflict bool
	}{
		{"same PAY", "", func(p *Payment) {}, false},
		{"other amount", "", func(p *Payment) { p.Amount = 501 }, true},
		{"other currency", "", func(p *Payment) { p.Currency = "EUR" }, true},
		{"other payment id", "pid-1", func(p *Payment) { p.PaymentID = "pid-2" }, true},
		{"same payment id", "pid-1", func(p *Payment) { p.PaymentID = "pid-1" }, false},
		{"payment id only now", "", func(p *Payment) { p.PaymentID = "pid-2" }, false},
		{"payment id only before", "pid-1", func(p *Payment) { p.PaymentID = "" }, false},
		{"other lane and deadline", "", func(p *Payment) { p.Lane = "7"; p.Deadline = p.Deadline.Add(time.Hour) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			s := openTest(t, c)
			p := newPayment(c, "pos-1")
			p.PaymentID = tt.storedID
			stored := mustAccept(t, s, p)
			tt.change(&p)
			got, created, err := s.Accept(p)
			if created {
				t.Fatal("a repeated request id created a second payment")
			}
			if errors.Is(err, ErrConflict) != tt.conflict {
				t.Fatalf("Accept error = %v; want conflict %v", err, tt.conflict)
			}
			if tt.conflict && err == nil || !tt.conflict && err != nil {
				t.Fatalf("Accept error = %v", err)
			}
			if !reflect.DeepEqual(got, stored) {
				t.Fatalf("Accept returned %+v; want the stored %+v", got, stored)
			}
			if now, _ := s.Get("pos-1"); !reflect.DeepEqual(now, stored) {
				t.Fatalf("stored payment changed to %+v", now)
			}
		})
	}
}

func TestAcceptRejectsIncompletePayments(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *Payment)
	}{
		{"no request id", func(p *Payment) { p.RequestID = "" }},
		{"request id too long", func(p *Payment) { p.RequestID = strings.Repeat("r", maxRequestID+1) }},
		{"zero amount", func(p *Payment) { p.Amount = 0 }},
		{"negative amount", func(p *Payment) { p.Amount = -5 }},
		{"no currency", func(p *Payment) { p.Currency = "" }},
		{"no deadline", func(p *Payment) { p.Deadline = time.Time{} }},
	}
	c := newClock()
	s := openTest(t, c)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPayment(c, "pos-1")
			tt.change(&p)
			if _, _, err := s.Accept(p); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Accept = %v; want ErrInvalid", err)
			}
		})
	}
	if n, _ := s.List(Filter{}); len(n) != 0 {
		t.Fatalf("invalid payments were stored: %v", n)
	}
}

// step is one call in a transition test.
type step func(s *Store, req string) error

func startCancel(s *Store, req string) error {
	return s.StartCancel(req, "REGISTER_CANCEL", time.Time{})
}
func finish(st State) step {
	return func(s *Store, req string) error {
		_, err := s.Finish(req, Result{Status: st, PaymentID: "pid-9", Code: "C", Time: "2026-11-30T12:01:01+08:00"}, Event{Call: CallInquiry, ResultStatus: "S", PaymentStatus: string(st)})
		return err
	}
}
func record(s *Store, req string) error {
	return s.Record(req, Event{Call: CallInquiry, ResultStatus: "U"}, time.Time{})
}
func deliver(s *Store, req string) error { return s.Deliver(req, time.Time{}) }

func TestTransitions(t *testing.T) {
	tests := []struct {
		name    string
		before  []step
		call    step
		want    error // nil: allowed
		state   State // state after the call
		changed bool  // whether the record's revision moved
	}{
		{"pending to cancelling", nil, startCancel, nil, Cancelling, true},
		{"pending to success", nil, finish(Success), nil, Success, true},
		{"pending to fail", nil, finish(Fail), nil, Fail, true},
		{"pending to cancelled", nil, finish(Cancelled), nil, Cancelled, true},
		{"cancelling to cancelled", []step{startCancel}, finish(Cancelled), nil, Cancelled, true},
		{"cancelling to success", []step{startCancel}, finish(Success), nil, Success, true},
		{"cancelling again changes nothing", []step{startCancel}, startCancel, nil, Cancelling, false},
		{"finish as pending", nil, finish(Pending), ErrTransition, Pending, false},
		{"finish as cancelling", nil, finish(Cancelling), ErrTransition, Pending, false},
		{"finish as unknown state", nil, finish("PAID"), ErrTransition, Pending, false},
		{"success to fail is audited only", []step{finish(Success)}, finish(Fail), ErrFinal, Success, true},
		{"cancelled to success is audited only", []step{finish(Cancelled)}, finish(Success), ErrFinal, Cancelled, true},
		{"fail to cancelling", []step{finish(Fail)}, startCancel, ErrFinal, Fail, false},
		{"record on final is audited only", []step{finish(Success)}, record, ErrFinal, Success, true},
		{"deliver pending", nil, deliver, ErrNotFinal, Pending, false},
		{"deliver cancelling", []step{startCancel}, deliver, ErrNotFinal, Cancelling, false},
		{"deliver final", []step{finish(Success)}, deliver, nil, Success, true},
		{"deliver twice changes nothing", []step{finish(Success), deliver}, deliver, nil, Success, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			s := openTest(t, c)
			mustAccept(t, s, newPayment(c, "pos-1"))
			for _, st := range tt.before {
				if err := st(s, "pos-1"); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := s.Get("pos-1")
			err := tt.call(s, "pos-1")
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("call = %v; want %v", err, tt.want)
			}
			after, _ := s.Get("pos-1")
			if after.State != tt.state {
				t.Fatalf("state = %s; want %s", after.State, tt.state)
			}
			if changed := after.Revision != before.Revision; changed != tt.changed {
				t.Fatalf("record changed = %v; want %v", changed, tt.changed)
			}
			if before.State.Final() && after.Result != before.Result {
				t.Fatalf("final result changed from %+v to %+v", before.Result, after.Result)
			}
			mustCheck(t, s)
		})
	}
}

func TestUnknownPaymentIsNotFound(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	calls := map[string]step{
		"Record":      record,
		"StartCancel": startCancel,
		"Finish":      finish(Success),
		"Deliver":     deliver,
		"Flag":        func(s *Store, req string) error { return s.Flag(req, "why") },
		"Get":         func(s *Store, req string) error { _, err := s.Get(req); return err },
	}
	for name, call := range calls {
		if err := call(s, "nobody"); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s of an unknown payment = %v; want ErrNotFound", name, err)
		}
	}
}

func TestFinishPutsPaymentInOutboxUntilDelivered(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	mustAccept(t, s, newPayment(c, "pos-1"))
	mustAccept(t, s, newPayment(c, "pos-2"))
	c.Advance(time.Second)
	r := Result{Status: Success, PaymentID: "pid-1", Code: "SUCCESS", Message: "paid", Time: "2026-11-30T20:00:01+08:00"}
	p, err := s.Finish("pos-1", r, Event{Call: CallInquiry, ResultStatus: "S", PaymentStatus: "SUCCESS"})
	if err != nil {
		t.Fatal(err)
	}
	if p.State != Success || p.Result != r || p.PaymentID != "pid-1" || !p.NextAt.IsZero() || !p.FinishedAt.Equal(c.Now()) {
		t.Fatalf("finished payment = %+v", p)
	}
	out, err := s.Outbox()
	if err != nil || len(out) != 1 || out[0].RequestID != "pos-1" {
		t.Fatalf("Outbox = %v, %v; want pos-1", out, err)
	}
	if un, _ := s.Unfinished(); len(un) != 1 || un[0].RequestID != "pos-2" {
		t.Fatalf("Unfinished = %v; want pos-2", un)
	}
	at := c.Advance(time.Second)
	if err := s.Deliver("pos-1", at); err != nil {
		t.Fatal(err)
	}
	if out, _ := s.Outbox(); len(out) != 0 {
		t.Fatalf("Outbox after DONE = %v", out)
	}
	p, _ = s.Get("pos-1")
	if !p.DeliveredAt.Equal(at) {
		t.Fatalf("DeliveredAt = %v; want %v", p.DeliveredAt, at)
	}
	mustCheck(t, s)
}

func TestFinishOnFinalRecordsContradictionOnly(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	mustAccept(t, s, newPayment(c, "pos-1"))
	first, err := s.Finish("pos-1", Result{Status: Cancelled, Code: "TIMEOUT"}, Event{Call: CallCancel, ResultStatus: "S"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Finish("pos-1", Result{Status: Success, PaymentID: "pid-1"}, Event{Call: CallInquiry, ResultStatus: "S", PaymentStatus: "SUCCESS"})
	if !errors.Is(err, ErrFinal) {
		t.Fatalf("Finish on final = %v; want ErrFinal", err)
	}
	if got.State != Cancelled || got.Result != first.Result || got.PaymentID != "" {
		t.Fatalf("final payment changed: %+v", got)
	}
	last := got.Audit[len(got.Audit)-1]
	if last.PaymentStatus != "SUCCESS" || !strings.Contains(last.Note, "not applied") {
		t.Fatalf("last audit event = %+v; want the contradicting answer, marked not applied", last)
	}
	if got.Inquiries != 1 || got.Cancels != 1 {
		t.Fatalf("counters = %d inquiries, %d cancels; want 1 and 1", got.Inquiries, got.Cancels)
	}
}

func TestRecordCountsAndReschedules(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	mustAccept(t, s, newPayment(c, "pos-1"))
	next := c.Now().Add(3 * time.Second)
	if err := s.Record("pos-1", Event{Call: CallInquiry, Error: "timeout after 15s"}, next); err != nil {
		t.Fatal(err)
	}
	if err := s.Record("pos-1", Event{Call: CallCancel, ResultStatus: "U"}, next.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Get("pos-1")
	if p.Inquiries != 1 || p.Cancels != 1 || p.LastError != "timeout after 15s" || !p.NextAt.Equal(next.Add(time.Second)) || p.State != Pending {
		t.Fatalf("payment = %+v", p)
	}
	if due, _ := s.Due(next, 0); len(due) != 0 {
		t.Fatalf("Due before the next action = %v", due)
	}
	mustCheck(t, s)
}

func TestDueIsInTimeOrderAndLimited(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	start := c.Now()
	// Accept in one order, schedule in another.
	order := []int{4, 1, 3, 0, 2}
	for _, i := range order {
		req := fmt.Sprintf("pos-%d", i)
		mustAccept(t, s, newPayment(c, req))
		if err := s.Record(req, Event{Call: CallInquiry}, start.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	next, ok, err := s.Next()
	if err != nil || !ok || !next.Equal(start) {
		t.Fatalf("Next = %v, %v, %v; want %v", next, ok, err, start)
	}
	due, err := s.Due(start.Add(2*time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	if ids := reqs(due); !reflect.DeepEqual(ids, []string{"pos-0", "pos-1", "pos-2"}) {
		t.Fatalf("Due = %v", ids)
	}
	due, _ = s.Due(start.Add(time.Hour), 2)
	if ids := reqs(due); !reflect.DeepEqual(ids, []string{"pos-0", "pos-1"}) {
		t.Fatalf("Due with limit 2 = %v", ids)
	}
	for _, i := range order {
		if _, err := s.Finish(fmt.Sprintf("pos-%d", i), Result{Status: Fail}, Event{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _ := s.Next(); ok {
		t.Fatal("Next reports an action with every payment final")
	}
}

func reqs(ps []Payment) []string {
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.RequestID)
	}
	return ids
}

func TestAuditTrailIsBounded(t *testing.T) {
	c := newClock()
	s, err := Open(filepath.Join(t.TempDir(), "q.db"), Options{Now: c.Now, AuditLimit: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustAccept(t, s, newPayment(c, "pos-1"))
	for i := range 20 {
		if err := s.Record("pos-1", Event{Call: CallInquiry, Note: fmt.Sprint(i)}, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := s.Get("pos-1")
	if len(p.Audit) != 5 || p.AuditDropped != 16 || p.Audit[4].Note != "19" || p.Inquiries != 20 {
		t.Fatalf("audit = %d events (%d dropped), last %+v, %d inquiries", len(p.Audit), p.AuditDropped, p.Audit[len(p.Audit)-1], p.Inquiries)
	}
}

func TestFlagMarksForFollowUp(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	mustAccept(t, s, newPayment(c, "pos-1"))
	mustAccept(t, s, newPayment(c, "pos-2"))
	for _, why := range []string{"AMOUNT_MISMATCH", "AMOUNT_MISMATCH", "cancel refused"} {
		if err := s.Flag("pos-1", why); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flag("pos-1", ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Flag without reason = %v; want ErrInvalid", err)
	}
	f, err := s.FollowUps()
	if err != nil || len(f) != 1 || f[0].FollowUp != "AMOUNT_MISMATCH; cancel refused" {
		t.Fatalf("FollowUps = %+v, %v", f, err)
	}
	if l, _ := s.List(Filter{FollowUp: true}); len(l) != 1 {
		t.Fatalf("List of flagged = %v", reqs(l))
	}
	mustCheck(t, s)
}

func TestPruneRemovesOnlyOldDeliveredUnflagged(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	const retention = 720 * time.Hour
	// old-*: delivered long ago; new-*: delivered now; others never delivered.
	for _, req := range []string{"old-1", "old-2", "old-flagged", "old-undelivered", "old-pending", "new-1"} {
		mustAccept(t, s, newPayment(c, req))
	}
	for _, req := range []string{"old-1", "old-2", "old-flagged", "old-undelivered"} {
		if err := finish(Success)(s, req); err != nil {
			t.Fatal(err)
		}
	}
	for _, req := range []string{"old-1", "old-2", "old-flagged"} {
		if err := s.Deliver(req, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flag("old-flagged", "refund by hand"); err != nil {
		t.Fatal(err)
	}
	c.Advance(retention)
	if err := finish(Fail)(s, "new-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Deliver("new-1", time.Time{}); err != nil {
		t.Fatal(err)
	}

	if n, err := s.Prune(c.Now(), retention); err != nil || n != 0 {
		t.Fatalf("Prune at exactly the retention = %d, %v; want 0", n, err)
	}
	now := c.Advance(time.Second)
	n, err := s.Prune(now, retention)
	if err != nil || n != 2 {
		t.Fatalf("Prune = %d, %v; want 2", n, err)
	}
	var left []string
	all, _ := s.List(Filter{})
	for _, p := range all {
		left = append(left, p.RequestID)
	}
	want := []string{"new-1", "old-flagged", "old-pending", "old-undelivered"}
	if strings.Join(slices.Sorted(slices.Values(left)), ",") != strings.Join(want, ",") {
		t.Fatalf("left after Prune: %v; want %v", left, want)
	}
	if n, _ := s.Prune(now, retention); n != 0 {
		t.Fatalf("second Prune removed %d", n)
	}
	mustCheck(t, s)
}

func TestPruneWorksInBatches(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	const n = pruneBatch*2 + 7
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i := range n {
			p := newPayment(c, fmt.Sprintf("pos-%05d", i))
			p.State, p.NextAt, p.FinishedAt, p.DeliveredAt = Success, time.Time{}, c.Now(), c.Now()
			if err := writeRecord(tx, nil, &p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Prune(c.Advance(time.Hour), time.Minute)
	if err != nil || got != n {
		t.Fatalf("Prune = %d, %v; want %d", got, err, n)
	}
	mustCheck(t, s)
}

func TestStatsCountsByState(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	for i := range 7 {
		mustAccept(t, s, newPayment(c, fmt.Sprint("pos-", i)))
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(startCancel(s, "pos-0"))
	must(startCancel(s, "pos-1"))
	must(finish(Success)(s, "pos-2"))
	must(finish(Fail)(s, "pos-3"))
	must(finish(Cancelled)(s, "pos-4"))
	must(deliver(s, "pos-4"))
	must(s.Flag("pos-3", "check"))
	st, err := s.Stats()
	want := Stats{Pending: 2, Cancelling: 2, Undelivered: 2, Delivered: 1, FollowUp: 1}
	if err != nil || st != want {
		t.Fatalf("Stats = %+v, %v; want %+v", st, err, want)
	}
}

func TestListFiltersAndOrders(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	for i := range 4 {
		mustAccept(t, s, newPayment(c, fmt.Sprint("pos-", i)))
		c.Advance(time.Minute)
	}
	if err := finish(Success)(s, "pos-1"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		f    Filter
		want []string
	}{
		{Filter{}, []string{"pos-3", "pos-2", "pos-1", "pos-0"}},
		{Filter{Limit: 2}, []string{"pos-3", "pos-2"}},
		{Filter{States: []State{Success}}, []string{"pos-1"}},
		{Filter{States: []State{Pending}, Since: c.Now().Add(-150 * time.Second)}, []string{"pos-3", "pos-2"}},
	}
	for _, tt := range tests {
		got, err := s.List(tt.f)
		if err != nil || !reflect.DeepEqual(reqs(got), tt.want) {
			t.Errorf("List(%+v) = %v, %v; want %v", tt.f, reqs(got), err, tt.want)
		}
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "q.db")
	s, err := Open(path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	mustAccept(t, s, newPayment(c, "pos-1"))
	p, err := s.Finish("pos-1", Result{Status: Success, PaymentID: "p", Time: "2026-11-30T12:00:00Z"}, Event{Call: CallInquiry})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Report() != nil {
		t.Fatalf("healthy file salvaged: %s", s.Report())
	}
	got, err := s.Get("pos-1")
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("after reopen Get = %+v, %v\nwant %+v", got, err, p)
	}
}

func TestReadOnlyOpenReadsAndRefusesWrites(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "q.db")
	s, err := Open(path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	mustAccept(t, s, newPayment(c, "pos-1"))
	s.Close()

	r1, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, err := Open(path, Options{ReadOnly: true}) // readers share the file
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if l, err := r2.List(Filter{}); err != nil || len(l) != 1 {
		t.Fatalf("read-only List = %v, %v", reqs(l), err)
	}
	if _, _, err := r1.Accept(newPayment(c, "pos-2")); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Accept on read-only store = %v; want ErrReadOnly", err)
	}
	if err := r1.Deliver("pos-1", time.Time{}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Deliver on read-only store = %v; want ErrReadOnly", err)
	}
	mustCheck(t, r1)
}

func TestReadOnlyOpenOfMissingFileFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.db")
	if _, err := Open(path, Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open read-only of a missing file = %v; want an error naming it", err)
	}
}

func TestNewerSchemaIsRefusedAndKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(schemaVersion+1)))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(path, Options{})
	if !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), fmt.Sprintf("schema %d", schemaVersion+1)) {
		t.Fatalf("Open of a newer file = %v; want ErrSchema", err)
	}
	matches, _ := filepath.Glob(path + ".corrupt-*")
	if len(matches) != 0 {
		t.Fatalf("a newer file was moved aside: %v", matches)
	}
}

// A store opened with a map far larger than its file (mapReserve) must not
// grow its file by bbolt's default step of 16 MiB: a terminal's store, and
// every copy of it, would be that large from its first payment.
func TestNewStoreFileStaysSmall(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	mustAccept(t, s, newPayment(c, "r1"))
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 2<<20 {
		t.Errorf("a store of one payment is %d bytes; want at most 2 MiB", fi.Size())
	}
}
