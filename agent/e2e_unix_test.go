//go:build unix

package agent

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/internal/postest"
	"github.com/posagent/posagent/queue"
)

func TestPaymentsEndToEnd(t *testing.T) {
	t.Parallel()
	usd := func(v string) alipay.Amount { return alipay.Amount{Currency: "USD", Value: v} }
	tests := []struct {
		name     string
		script   alipaysim.Script
		cancel   bool          // the register sends CANCEL after ACCEPTED
		deadline time.Duration // polling.cancel_after
		status   string
		code     string
		followUp bool
	}{
		{name: "success after polls", script: alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Processing(3), alipaysim.Success()}},
			deadline: time.Minute, status: "SUCCESS"},
		{name: "failure", script: alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Processing(1), alipaysim.Fail("USER_BALANCE_NOT_ENOUGH")}},
			deadline: time.Minute, status: "FAIL", code: "USER_BALANCE_NOT_ENOUGH"},
		{name: "timeout ends in a cancel", script: alipaysim.Script{},
			deadline: 300 * time.Millisecond, status: "CANCELLED", code: device.CodeTimeout},
		{name: "cashier cancel", script: alipaysim.Script{}, cancel: true,
			deadline: time.Minute, status: "CANCELLED", code: device.CodeRegisterCancel},
		{name: "unknown answers before success", script: alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Unknown(2), alipaysim.HTTP500(1), alipaysim.Unsigned(), alipaysim.Success()}},
			deadline: time.Minute, status: "SUCCESS"},
		{name: "rate limited before success", script: alipaysim.Script{Steps: []alipaysim.Step{alipaysim.RateLimited(2), alipaysim.Success()}},
			deadline: time.Minute, status: "SUCCESS"},
		{name: "forged success never passes", script: alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Forged()}},
			deadline: 300 * time.Millisecond, status: "CANCELLED", code: device.CodeTimeout},
		{name: "amount mismatch is cancelled", script: alipaysim.Script{Steps: []alipaysim.Step{alipaysim.MismatchedAmount(usd("99"))}},
			deadline: time.Minute, status: "CANCELLED", code: device.CodeAmountMismatch},
		{name: "amount mismatch with cancel refused fails and is flagged",
			script:   alipaysim.Script{Steps: []alipaysim.Step{alipaysim.MismatchedAmount(usd("99"))}, Cancel: []alipaysim.Step{alipaysim.Refuse("ORDER_IS_CLOSED")}},
			deadline: time.Minute, status: "FAIL", code: device.CodeAmountMismatch, followUp: true},
		{name: "refused cancel then inquiry says paid", script: alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Processing(2), alipaysim.Success()}, Cancel: []alipaysim.Step{alipaysim.Refuse("ORDER_IS_CLOSED")}},
			cancel: true, deadline: time.Minute, status: "SUCCESS"},
		{name: "payment Alipay never knew fails after the grace", script: alipaysim.Script{},
			deadline: 200 * time.Millisecond, status: "FAIL", code: codeNotExist, followUp: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			const req = "pos-1"
			if tt.name != "payment Alipay never knew fails after the grace" {
				r.srv.Script(req, tt.script)
			}
			opts := testOptions()
			opts.CancelAfter = tt.deadline
			opts.AbsentGrace = 300 * time.Millisecond
			r.start(opts)
			if st := r.pay(req, 100, 0); st.State != "ACCEPTED" {
				t.Fatalf("PAY answered %+v, want ACCEPTED", st)
			}
			if tt.cancel {
				if st := r.reg.request(device.Cancel{Req: req}); st.State != "CANCELLING" && st.State != tt.status {
					t.Fatalf("CANCEL answered %+v, want CANCELLING", st)
				}
			}
			res := r.reg.result(req)
			if res.Status != tt.status || (tt.code != "" && res.Code != tt.code) {
				t.Fatalf("RESULT %+v, want %s %s", res, tt.status, tt.code)
			}
			if res.Amount != 100 || res.Currency != "USD" || res.Time == "" {
				t.Errorf("RESULT fields %+v, want amt 100 USD and a time", res)
			}
			if _, err := time.Parse(time.RFC3339, res.Time); err != nil {
				t.Errorf("RESULT time %q: %v", res.Time, err)
			}
			p := waitDelivered(t, r, req)
			if p.State != queue.State(tt.status) {
				t.Errorf("stored state %s, want %s", p.State, tt.status)
			}
			if (p.FollowUp != "") != tt.followUp {
				t.Errorf("follow-up %q, want flagged %v", p.FollowUp, tt.followUp)
			}
			st := r.reg.request(device.Query{Req: req})
			if st.State != tt.status || st.Amount != 100 {
				t.Errorf("QUERY after the end answered %+v, want %s with the result fields", st, tt.status)
			}
			if st := r.pay(req, 100, 0); st.State != tt.status {
				t.Errorf("repeated PAY answered %+v, want the final state %s", st, tt.status)
			}
		})
	}
}

// waitDelivered waits until the register's DONE for req is stored.
func waitDelivered(t *testing.T, r *rig, req string) queue.Payment {
	t.Helper()
	var p queue.Payment
	r.waitAgent("DONE of "+req+" stored", func(Snapshot) bool {
		var err error
		p, err = r.store.Get(req)
		return err == nil && p.Delivered()
	})
	return p
}

func TestRequestsAnsweredPerProtocol(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.srv.Script("known", alipaysim.Script{})
	r.start(testOptions())
	long := strings.Repeat("x", 70)
	tests := []struct {
		name  string
		msg   device.Message
		req   string
		state string
		code  string
		msg0  string // the start of msg
	}{
		{"PAY accepted", device.Pay{Req: "known", Amount: 100, Currency: "USD"}, "known", "ACCEPTED", "", ""},
		{"PAY repeated is accepted again", device.Pay{Req: "known", Amount: 100, Currency: "USD"}, "known", "ACCEPTED", "", ""},
		{"PAY with another amount conflicts", device.Pay{Req: "known", Amount: 200, Currency: "USD"}, "known", "REJECTED", "CONFLICT", ""},
		{"PAY with a bad currency is invalid", device.Pay{Req: "bad-cur", Amount: 100, Currency: "usd"}, "bad-cur", "REJECTED", "INVALID_FIELD", "cur:"},
		{"PAY with a long req echoes 64 characters", device.Pay{Req: long, Amount: 100, Currency: "USD"}, long[:64], "REJECTED", "INVALID_FIELD", "req:"},
		{"PAY with a zero-width space in req is invalid", device.Pay{Req: "pos\u200b42", Amount: 100, Currency: "USD"}, "pos\u200b42", "REJECTED", "INVALID_FIELD", "req:"},
		{"PAY with a byte-order mark before req is invalid", device.Pay{Req: "\ufeffpos-42", Amount: 100, Currency: "USD"}, "\ufeffpos-42", "REJECTED", "INVALID_FIELD", "req:"},
		{"PAY with an emoji in req is invalid", device.Pay{Req: "pos-\U0001F600", Amount: 100, Currency: "USD"}, "pos-\U0001F600", "REJECTED", "INVALID_FIELD", "req:"},
		{"PAY with a space in req is invalid", device.Pay{Req: "pos 42", Amount: 100, Currency: "USD"}, "pos 42", "REJECTED", "INVALID_FIELD", "req:"},
		{"QUERY with a req no PAY can have is unknown", device.Query{Req: "pos\u200b42"}, "pos\u200b42", "UNKNOWN", "", ""},
		{"CANCEL with a req no PAY can have is unknown", device.Cancel{Req: "pos 42"}, "pos 42", "UNKNOWN", "", ""},
		{"QUERY of a payment being polled", device.Query{Req: "known"}, "known", "PENDING", "", ""},
		{"QUERY of an unknown payment", device.Query{Req: "nobody"}, "nobody", "UNKNOWN", "", ""},
		{"CANCEL of an unknown payment", device.Cancel{Req: "nobody"}, "nobody", "UNKNOWN", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := r.reg.requestFor(tt.msg, tt.req)
			if st.State != tt.state || st.Code != tt.code || !strings.HasPrefix(st.Msg, tt.msg0) {
				t.Errorf("STATUS %+v, want %s %s %q...", st, tt.state, tt.code, tt.msg0)
			}
		})
	}
	ps, err := r.store.List(queue.Filter{})
	if err != nil || len(ps) != 1 {
		t.Errorf("store holds %d payments (%v), want only the one accepted", len(ps), err)
	}
}

func TestPayRejectedWhenStoreFails(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.start(testOptions())
	r.waitAgent("link up", func(s Snapshot) bool { return s.LinkUp })
	r.store.Close() // the disk is gone: nothing can be committed
	st := r.pay("pos-1", 100, 0)
	if st.State != "REJECTED" || st.Code != "STORAGE_ERROR" {
		t.Errorf("PAY answered %+v, want REJECTED STORAGE_ERROR", st)
	}
	if n := r.agent.Snapshot().StoreErrors; n == 0 {
		t.Error("no store error counted")
	}
}

// offsetClock is a wall clock that a test can move forward.
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *offsetClock) advance(d time.Duration) { c.off.Add(int64(d)) }

func TestPastCancelWindowOnlyInquiresAndFlags(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.srv.Script("late", alipaysim.Script{})
	var clock offsetClock
	opts := testOptions()
	opts.Now = clock.now
	opts.CancelAfter = time.Minute
	r.start(opts)
	if st := r.pay("late", 100, 0); st.State != "ACCEPTED" {
		t.Fatalf("PAY answered %+v", st)
	}
	clock.advance(48 * time.Hour) // a long outage: deadline and cancel window both past
	var p queue.Payment
	r.waitAgent("late payment flagged and asked again", func(Snapshot) bool {
		p, _ = r.store.Get("late")
		return p.FollowUp != "" && p.Inquiries >= 3
	})
	r.halt()
	for _, c := range r.srv.Calls() {
		if c.API == alipay.APICancel {
			t.Fatalf("a cancel was made past the cancel window: %+v", c)
		}
	}
	if p.State != queue.Pending {
		t.Errorf("state %s, want PENDING", p.State)
	}
}

func TestRestartResumesPollingAndResendsResults(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.srv.Script("open", alipaysim.Script{})                                             // PROCESSING until scripted again
	r.srv.Script("done", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}}) // final at once
	r.srv.Script("late", alipaysim.Script{})                                             // its deadline passes while stopped
	// The register does not confirm before the restart.
	r.reg.SetAutoDone(false)
	var clock offsetClock
	opts := testOptions()
	opts.Now = clock.now
	opts.CancelAfter = 10 * time.Minute
	r.start(opts)
	r.srv.Script("resume", alipaysim.Script{}) // PROCESSING until scripted again; its PAY asks for an hour
	for _, req := range []string{"open", "done", "late"} {
		if st := r.pay(req, 100, 0); st.State != "ACCEPTED" {
			t.Fatalf("PAY %s answered %+v", req, st)
		}
	}
	if st := r.pay("resume", 100, time.Hour); st.State != "ACCEPTED" {
		t.Fatalf("PAY resume answered %+v", st)
	}
	if res := r.reg.result("done"); res.Status != "SUCCESS" {
		t.Fatalf("RESULT %+v", res)
	}
	r.halt()
	before := len(r.reg.resultsFor("done"))

	r.srv.Script("open", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	r.srv.Script("resume", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	r.reg.SetAutoDone(true)
	clock.advance(11 * time.Minute) // past the deadlines, inside the cancel window
	r.srv.Script("late", alipaysim.Script{})
	r.start(opts)
	r.reg.waitResults("done", before+1) // the RESULT of done resent
	if res := r.reg.result("late"); res.Status != "CANCELLED" || res.Code != device.CodeTimeout {
		t.Errorf("late payment RESULT %+v, want CANCELLED TIMEOUT", res)
	}
	// "open" was not final before the stop and its deadline passed too; the
	// customer paid meanwhile. It is asked about before any cancel, so it
	// ends SUCCESS, never polled from scratch or tracked twice.
	if res := r.reg.result("open"); res.Status != "SUCCESS" {
		t.Errorf("open payment RESULT %+v, want SUCCESS", res)
	}
	// "resume" is inside its deadline: polling resumes and finds it paid.
	if res := r.reg.result("resume"); res.Status != "SUCCESS" {
		t.Errorf("resumed payment RESULT %+v, want SUCCESS", res)
	}
	if st := r.pay("done", 100, 0); st.State != "SUCCESS" {
		t.Errorf("replayed PAY answered %+v, want SUCCESS", st)
	}
	ps, _ := r.store.List(queue.Filter{})
	if len(ps) != 4 {
		t.Errorf("store holds %d payments, want 4", len(ps))
	}
	for _, req := range []string{"done", "late", "open", "resume"} {
		waitDelivered(t, r, req)
	}
}

func TestStopIsPromptWithCallsInFlight(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.srv.Script("slow", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Slow(time.Hour)}})
	r.start(testOptions())
	r.pay("slow", 100, 0)
	ctx, cancel := context.WithTimeout(context.Background(), postest.Guard)
	defer cancel()
	if _, err := r.srv.WaitCalls(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// The slow call holds one worker; the register is still served.
	if st := r.pay("next", 100, 0); st.State != "ACCEPTED" {
		t.Errorf("PAY during a slow call answered %+v", st)
	}
	if s := r.agent.Snapshot(); s.InFlight == 0 {
		t.Errorf("snapshot shows no call in flight during the slow one: %+v", s)
	}
	r.halt() // fails the test if Run does not return
	if p, err := queue.Open(r.dbPath, queue.Options{LockTimeout: time.Second}); err != nil {
		t.Errorf("store not released after stop: %v", err)
	} else {
		p.Close()
	}
}

func TestResultResentUntilDone(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.srv.Script("pos-1", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	r.reg.SetAutoDone(false)
	opts := testOptions()
	opts.ResendAfter = 100 * time.Millisecond
	r.start(opts)
	r.pay("pos-1", 100, 0)
	r.reg.waitResults("pos-1", 3) // the RESULT sent three times
	if err := r.reg.Done(context.Background(), "pos-1"); err != nil {
		t.Fatal(err)
	}
	p := waitDelivered(t, r, "pos-1")
	if p.State != queue.Success {
		t.Errorf("state %s", p.State)
	}
	for _, m := range r.reg.resultsFor("pos-1") {
		if m.Status != "SUCCESS" {
			t.Errorf("a resent RESULT said %s", m.Status)
		}
	}
}

func TestOperatorProblemKeepsPaymentsAndSlowsDown(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	cfg := r.srv.ClientConfig()
	cfg.KeyVersion = 7 // the server knows key version 1 only: F KEY_NOT_FOUND
	client, err := alipay.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.client = client
	r.srv.Script("pos-1", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	r.start(testOptions())
	r.pay("pos-1", 100, 0)
	var s Snapshot
	r.waitAgent("an operator problem reported", func(got Snapshot) bool { s = got; return got.OperatorProblem != "" })
	if !strings.Contains(s.OperatorProblem, "KEY_NOT_FOUND") {
		t.Errorf("operator problem %q does not name the code", s.OperatorProblem)
	}
	p, err := r.store.Get("pos-1")
	if err != nil || p.State != queue.Pending {
		t.Fatalf("payment %+v (%v), want it kept PENDING", p.State, err)
	}
	if !p.NextAt.After(time.Now().Add(operatorPause / 2)) {
		t.Errorf("next call at %v, want about %v from now", p.NextAt, operatorPause)
	}
}

func TestDeliveredPaymentsPrunedAfterRetention(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.srv.Script("old", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	var clock offsetClock
	opts := testOptions()
	opts.Now = clock.now
	opts.Retention = time.Hour
	r.start(opts)
	r.pay("old", 100, 0)
	waitDelivered(t, r, "old")
	r.halt()

	clock.advance(2 * time.Hour)
	r.start(opts) // prunes at its first pass
	r.waitAgent("the delivered payment pruned", func(Snapshot) bool {
		_, err := r.store.Get("old")
		return errors.Is(err, queue.ErrNotFound)
	})
}
