package queue

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestApplyCommitsAWholeDecision(t *testing.T) {
	c := newClock()
	created := c.Now().Add(-time.Minute).UTC()
	tests := []struct {
		name      string
		step      Step
		wantState State
		wantFlag  string
		wantNext  bool // NextAt set
	}{
		{"final result with its flag and track", Step{
			Event:    Event{Call: CallInquiry, ResultStatus: "S", PaymentStatus: "SUCCESS"},
			Track:    &Track{Mismatch: true, Refusals: 2, Known: true, CreatedAt: created},
			Result:   &Result{Status: Fail, Code: "AMOUNT_MISMATCH"},
			FollowUp: "refund by hand",
		}, Fail, "refund by hand", false},
		{"cancel decided with the answer that led to it", Step{
			Event:  Event{Call: CallInquiry, ResultStatus: "S", PaymentStatus: "PROCESSING"},
			Track:  &Track{Known: true},
			Cancel: "TIMEOUT",
			Next:   c.Now().Add(time.Second),
		}, Cancelling, "", true},
		{"track and flag without a state change", Step{
			Event:    Event{Call: CallCancel, ResultStatus: "F", Code: "CANCEL_WINDOW_EXCEED"},
			Track:    &Track{Refusals: 1, NoCancel: true, Known: true},
			FollowUp: "past the window",
			Next:     c.Now().Add(time.Minute),
		}, Pending, "past the window", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, c)
			mustAccept(t, s, newPayment(c, "pos-1"))
			if _, err := s.Apply("pos-1", tt.step); err != nil {
				t.Fatal(err)
			}
			p, err := s.Get("pos-1")
			if err != nil {
				t.Fatal(err)
			}
			if p.State != tt.wantState || p.FollowUp != tt.wantFlag || !p.NextAt.IsZero() != tt.wantNext {
				t.Errorf("stored %s, flag %q, next %v; want %s, %q, next set %v", p.State, p.FollowUp, p.NextAt, tt.wantState, tt.wantFlag, tt.wantNext)
			}
			if !reflect.DeepEqual(p.Track, *tt.step.Track) {
				t.Errorf("track %+v, want %+v", p.Track, *tt.step.Track)
			}
			if tt.step.Cancel != "" && p.CancelReason != tt.step.Cancel {
				t.Errorf("cancel reason %q, want %q", p.CancelReason, tt.step.Cancel)
			}
			if tt.wantFlag != "" {
				if ids, _ := s.FollowUps(); len(ids) != 1 {
					t.Errorf("follow-up index holds %d payments, want 1", len(ids))
				}
			}
			mustCheck(t, s)
		})
	}
}

func TestTrackOutlivesTheAuditLimit(t *testing.T) {
	c := newClock()
	s, err := Open(t.TempDir()+"/posagent.db", Options{Now: c.Now, AuditLimit: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	mustAccept(t, s, newPayment(c, "pos-1"))
	if _, err := s.Apply("pos-1", Step{Track: &Track{Mismatch: true}, Cancel: "AMOUNT_MISMATCH"}); err != nil {
		t.Fatal(err)
	}
	for range 20 { // a long cancel retry pushes every early event out of the trail
		if err := s.Record("pos-1", Event{Call: CallCancel, Error: "timeout"}, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := s.Get("pos-1")
	if !p.Track.Mismatch || p.CancelReason != "AMOUNT_MISMATCH" || len(p.Audit) != 4 {
		t.Errorf("after 20 cancels: track %+v, reason %q, %d events; want the mismatch kept", p.Track, p.CancelReason, len(p.Audit))
	}
}

func TestApplyOnFinalPaymentOnlyAudits(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	mustAccept(t, s, newPayment(c, "pos-1"))
	if _, err := s.Finish("pos-1", Result{Status: Success}, Event{Call: CallInquiry}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Apply("pos-1", Step{Event: Event{Call: CallCancel}, Cancel: "TIMEOUT", FollowUp: "x", Track: &Track{Refusals: 9}})
	if !errors.Is(err, ErrFinal) || got.State != Success || got.FollowUp != "" || got.Track.Refusals != 0 {
		t.Errorf("Apply on final = %+v, %v; want it unchanged but for the trail, ErrFinal", got, err)
	}
	if last := got.Audit[len(got.Audit)-1]; last.Call != CallCancel {
		t.Errorf("last event %+v, want the cancel recorded", last)
	}
}
