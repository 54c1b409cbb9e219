//go:build unix

package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/internal/postest"
	"github.com/posagent/posagent/queue"
)

// These tests check the money-safety rules 8 and 9 of docs/design.md
// against the fake Alipay over loopback HTTP: what the agent does when
// Alipay refuses, and how it paces itself.

// repeat returns n copies of step s.
func repeat(s alipaysim.Step, n int) []alipaysim.Step {
	steps := make([]alipaysim.Step, n)
	for i := range steps {
		steps[i] = s
	}
	return steps
}

// callsOf returns the calls of api the fake Alipay got for req.
func callsOf(srv *alipaysim.Server, api, req string) []alipaysim.Call {
	var out []alipaysim.Call
	for _, c := range srv.Calls() {
		if c.API == api && c.PaymentRequestID == req {
			out = append(out, c)
		}
	}
	return out
}

// waitPayment waits until the stored payment req satisfies ok, checked at
// each change of the agent's state, and returns it.
func (r *rig) waitPayment(req, what string, ok func(queue.Payment) bool) queue.Payment {
	r.t.Helper()
	var p queue.Payment
	r.waitAgent(what, func(Snapshot) bool {
		var err error
		p, err = r.store.Get(req)
		return err == nil && ok(p)
	})
	return p
}

func TestAnswerOtherThanOrderNotExistEndsTheGrace(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const req = "seen-once"
	notExist := alipaysim.Refuse(codeNotExist)
	// Alipay denies the payment, knows it once, then denies it again.
	inquiries := append(repeat(notExist, 3), alipaysim.Processing(1))
	r.srv.Script(req, alipaysim.Script{
		Steps:  append(inquiries, repeat(notExist, 200)...),
		Cancel: repeat(alipaysim.Refuse(codeNotExist), 200),
	})
	opts := testOptions()
	opts.CancelAfter = 100 * time.Millisecond
	// The fourth inquiry comes within a few pauses of the first refusal
	// (20, 40, 80 ms), well inside the grace; the seventh refusal comes
	// after pauses adding up to more than twice the grace.
	opts.AbsentGrace = time.Second
	r.start(opts)
	if st := r.pay(req, 100, 0); st.State != "ACCEPTED" {
		t.Fatalf("PAY answered %+v", st)
	}
	p := r.waitPayment(req, "seven refused cancels", func(p queue.Payment) bool {
		return p.State.Final() || p.Track.Refusals >= 7
	})
	if p.State.Final() {
		t.Fatalf("payment ended %s %s after Alipay had known it; want it kept open; trail %+v", p.State, p.Result.Code, p.Audit)
	}
	if !p.Track.Known || !p.Track.AbsentSince.IsZero() {
		t.Errorf("track %+v, want Known and no absent run", p.Track)
	}
}

func TestCancelWindowExceededStopsCancelling(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const req = "too-late"
	r.srv.Script(req, alipaysim.Script{Cancel: repeat(alipaysim.Refuse(codeWindowExceeded), 50)}) // PROCESSING
	opts := testOptions()
	opts.CancelAfter = 100 * time.Millisecond
	r.start(opts)
	r.pay(req, 100, 0)
	p := r.waitPayment(req, "three slow inquiries after the refusal", func(p queue.Payment) bool {
		return p.Track.NoCancel && len(callsOf(r.srv, alipay.APIInquiry, req)) >= 5
	})
	r.halt()
	if !hasNote(p.FollowUp, followUpWindow) {
		t.Errorf("follow-up %q, want %q", p.FollowUp, followUpWindow)
	}
	if p.State.Final() {
		t.Errorf("payment ended %s; want it open, asked about slowly", p.State)
	}
	cancels := callsOf(r.srv, alipay.APICancel, req)
	if len(cancels) != 1 {
		t.Fatalf("%d cancels, want 1: no cancel after CANCEL_WINDOW_EXCEED", len(cancels))
	}
	var after []alipaysim.Call
	for _, c := range callsOf(r.srv, alipay.APIInquiry, req) {
		if c.Time.After(cancels[0].Time) {
			after = append(after, c)
		}
	}
	late := lateFactor * opts.Interval
	for i := 1; i < len(after); i++ {
		if gap := after[i].Time.Sub(after[i-1].Time); gap < late {
			t.Errorf("inquiries %v apart after the refusal, want at least %v", gap, late)
		}
	}
}

func TestRefusedCancelsAreRetriedWithGrowingPauses(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const req = "refused"
	r.srv.Script(req, alipaysim.Script{Cancel: append(repeat(alipaysim.Refuse("PROCESS_FAIL"), 5), alipaysim.Success())})
	opts := testOptions()
	opts.CancelAfter = 100 * time.Millisecond
	r.start(opts)
	r.pay(req, 100, 0)
	if res := r.reg.result(req); res.Status != "CANCELLED" || res.Code != device.CodeTimeout {
		t.Fatalf("RESULT %+v, want CANCELLED TIMEOUT once the cancel goes through", res)
	}
	cancels := callsOf(r.srv, alipay.APICancel, req)
	if len(cancels) != 6 {
		t.Fatalf("%d cancels, want 6", len(cancels))
	}
	// After the k-th refusal: one interval to the inquiry, then at least
	// three quarters (the jitter) of interval * 2^k to the next cancel.
	interval := opts.Interval
	for k := 1; k < len(cancels); k++ {
		least := interval + time.Duration(float64(interval<<k)*0.75)
		if gap := cancels[k].Time.Sub(cancels[k-1].Time); gap < least {
			t.Errorf("cancel %d came %v after the refused one, want at least %v", k+1, gap, least)
		}
	}
	for i, c := range callsOf(r.srv, alipay.APIInquiry, req) {
		if i > 0 && strings.HasPrefix(c.Answer, "F") {
			t.Errorf("inquiry %d answered %s", i, c.Answer)
		}
	}
}

func TestPaymentsUnknownToAlipayRaiseAnOperatorProblem(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	opts := testOptions()
	opts.CancelAfter = 100 * time.Millisecond
	r.start(opts)
	for _, req := range []string{"u1", "u2", "u3"} { // unscripted: ORDER_NOT_EXIST
		r.pay(req, 100, 0)
	}
	var s Snapshot
	r.waitAgent("the wrong-merchant problem", func(got Snapshot) bool {
		s = got
		return strings.Contains(got.OperatorProblem, "knows none of this register's payments")
	})
	for _, key := range []string{"alipay.client_id", "alipay.merchant_account_id", "SANDBOX_"} {
		if !strings.Contains(s.OperatorProblem, key) {
			t.Errorf("problem %q does not name %s", s.OperatorProblem, key)
		}
	}
	r.srv.Script("known", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	r.pay("known", 100, 0)
	if res := r.reg.result("known"); res.Status != "SUCCESS" {
		t.Fatalf("RESULT %+v", res)
	}
	r.waitAgent("the problem cleared", func(got Snapshot) bool { return got.OperatorProblem == "" })
}

func TestAnswersThatNeverVerifyRaiseAnOperatorProblem(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const req = "forged"
	r.srv.Script(req, alipaysim.Script{Steps: append(repeat(alipaysim.Forged(), badSignatureLimit), alipaysim.Success())})
	opts := testOptions()
	opts.PublicKeyFile = "/etc/posagent/alipay_public_key.pem"
	r.start(opts)
	r.pay(req, 100, 0)
	var s Snapshot
	r.waitAgent("the key problem", func(got Snapshot) bool { s = got; return got.OperatorProblem != "" })
	if !strings.Contains(s.OperatorProblem, "alipay.alipay_public_key_file (/etc/posagent/alipay_public_key.pem)") {
		t.Errorf("problem %q does not name the key file", s.OperatorProblem)
	}
	if res := r.reg.result(req); res.Status != "SUCCESS" {
		t.Fatalf("RESULT %+v, want the verified SUCCESS", res)
	}
	r.waitAgent("the problem cleared", func(got Snapshot) bool { return got.OperatorProblem == "" })
	if n := len(callsOf(r.srv, alipay.APIInquiry, req)); n != badSignatureLimit+1 {
		t.Errorf("%d inquiries, want %d", n, badSignatureLimit+1)
	}
}

func TestWallClockSteppedBackDoesNotStallPolling(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const req = "stepped"
	r.srv.Script(req, alipaysim.Script{}) // PROCESSING
	var clock offsetClock
	opts := testOptions()
	opts.Now = clock.now
	opts.CancelAfter = time.Hour
	r.start(opts)
	r.pay(req, 100, 0)
	p := r.waitPayment(req, "two inquiries", func(p queue.Payment) bool { return p.Inquiries >= 2 })
	clock.advance(-30 * time.Minute) // an NTP step back
	r.waitPayment(req, "inquiries going on after the step", func(q queue.Payment) bool { return q.Inquiries >= p.Inquiries+3 })
}

func TestStoreThatCannotWriteMakesNoFurtherCalls(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const req = "unwritable"
	r.srv.Script(req, alipaysim.Script{}) // PROCESSING
	s, err := queue.Open(r.dbPath, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Accept(queue.Payment{RequestID: req, Amount: 100, Currency: "USD", Deadline: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Reads work, every commit fails: a full or read-only disk.
	r.storeOpts = queue.Options{ReadOnly: true}
	failures := make(chan string, 100)
	opts := testOptions()
	opts.Log = zerolog.New(lineWriter(func(line string) {
		if strings.Contains(line, "cannot record the answer in the store") {
			select {
			case failures <- line:
			default:
			}
		}
	}))
	r.start(opts)
	// The first answer cannot be kept; it is committed again after 1 s and
	// 2 s, and meanwhile no new call is made.
	for range 3 {
		select {
		case <-failures:
		case <-time.After(postest.Guard):
			t.Fatal("no failed commit logged")
		}
	}
	if n := len(callsOf(r.srv, alipay.APIInquiry, req)); n != 1 {
		t.Errorf("%d inquiries while no answer could be stored, want 1", n)
	}
}

// lineWriter is an io.Writer that hands each write (one log line) to fn.
type lineWriter func(string)

func (w lineWriter) Write(b []byte) (int, error) {
	w(string(b))
	return len(b), nil
}

func TestClockOffsetFromAlipayIsShown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		skew time.Duration // Alipay's clock ahead of the terminal's
		want time.Duration // the offset shown: terminal ahead of Alipay
	}{
		{"terminal behind", 5 * time.Minute, -5 * time.Minute},
		{"terminal ahead", -3 * time.Minute, 3 * time.Minute},
		{"within two minutes is not shown", time.Minute, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.srv.SetClockSkew(tt.skew)
			r.srv.Script("p", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
			r.start(testOptions())
			r.pay("p", 100, 0)
			r.reg.result("p")
			s := r.agent.Snapshot()
			if d := s.ClockOffset - tt.want; d > 2*time.Second || d < -2*time.Second {
				t.Errorf("clock offset %v, want about %v", s.ClockOffset, tt.want)
			}
			// /metrics shows the offset however small it is.
			if d := s.MeasuredClockOffset + tt.skew; d > 2*time.Second || d < -2*time.Second {
				t.Errorf("measured clock offset %v, want about %v", s.MeasuredClockOffset, -tt.skew)
			}
		})
	}
}

func TestMismatchIsNeverForgottenForSuccess(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const req = "two-amounts"
	usd99 := alipay.Amount{Currency: "USD", Value: "99"}
	// Another amount, then the right one: Alipay said two things.
	r.srv.Script(req, alipaysim.Script{
		Steps:  []alipaysim.Step{alipaysim.MismatchedAmount(usd99), alipaysim.Success()},
		Cancel: []alipaysim.Step{alipaysim.Refuse("PROCESS_FAIL"), alipaysim.Success()},
	})
	r.start(testOptions())
	r.pay(req, 100, 0)
	if res := r.reg.result(req); res.Status == "SUCCESS" || res.Code != device.CodeAmountMismatch {
		t.Fatalf("RESULT %+v, want AMOUNT_MISMATCH and never SUCCESS", res)
	}
}
