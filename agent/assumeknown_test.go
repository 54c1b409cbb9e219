package agent

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/queue"
)

// The first answer that shows Alipay knows a payment is held in memory like
// any PROCESSING answer, so a crash can lose it. The grace rule must not
// then end the payment FAIL ORDER_NOT_EXIST, which would say the customer
// did not pay while Alipay had shown it knew the payment: a run that
// starts after a crash assumes every open payment may have been known.
func TestGraceRuleAfterACrashAssumesThePaymentWasKnown(t *testing.T) {
	processing := func(j job) outcome {
		return outcome{job: j, inquiry: &alipay.InquiryResponse{Result: alipay.Result{Status: "S", Code: "SUCCESS"},
			PaymentStatus: alipay.StatusProcessing, PaymentRequestID: j.ref.PaymentRequestID,
			PaymentAmount: alipay.Amount{Currency: "USD", Value: "100"}}}
	}
	notExist := func(j job) outcome {
		api := alipay.APIInquiry
		if j.act == actCancel {
			api = alipay.APICancel
		}
		return outcome{job: j, err: &alipay.Error{API: api, Ref: j.ref, Class: alipay.Rejected,
			ResultStatus: "F", Code: codeNotExist, HTTPStatus: 200, Verified: true}}
	}
	for _, tc := range []struct {
		name    string
		known   bool // the first run's answer was PROCESSING, not ORDER_NOT_EXIST
		crash   bool // the first run ends without closing the store
		wantEnd bool // the grace rule ends the payment in the second run
	}{
		{"known, crash", true, true, false},
		{"known, clean stop", true, false, false},
		{"never known, crash", false, true, false},
		{"never known, clean stop", false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
			var mono time.Duration
			opts := Options{Interval: simInterval, CancelAfter: simCancelAfter, MaxRPS: simMaxRPS, Workers: simWorkers,
				Now: func() time.Time { return now }, Mono: func() time.Duration { return mono }}
			path := filepath.Join(t.TempDir(), "payments.db")
			s, err := queue.Open(path, queue.Options{Now: opts.Now, Quick: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Accept(queue.Payment{RequestID: "sale", Amount: 100, Currency: "USD",
				AcceptedAt: now, Deadline: now.Add(simCancelAfter)}); err != nil {
				t.Fatal(err)
			}
			// The first run: one inquiry, answered.
			first := processing
			if !tc.known {
				first = notExist
			}
			a := New(s, simNoAlipay{}, simNoRegister{}, opts)
			if err := a.resume(); err != nil {
				t.Fatal(err)
			}
			a.tick(now)
			a.apply(first(<-a.jobs))
			if p, err := s.Get("sale"); err != nil || p.Track.Known != tc.known || s.Holding() != 1 {
				t.Fatalf("after the first answer: track %+v, %d held (%v); want the answer held", p.Track, s.Holding(), err)
			}
			if tc.crash {
				image, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				if err := os.WriteFile(path, image, 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				s.Close()
			}

			// The second run: Alipay denies the payment and refuses every
			// cancel, for far longer than the grace.
			s, err = queue.Open(path, queue.Options{Now: opts.Now, Quick: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			a = New(s, simNoAlipay{}, simNoRegister{}, opts)
			if err := a.resume(); err != nil {
				t.Fatal(err)
			}
			if p, _ := s.Get("sale"); p.Track.MaybeKnown != (tc.crash && !p.Track.Known) {
				t.Errorf("track %+v after a start that follows a crash: %v", p.Track, tc.crash)
			}
			cancels := 0
			for range 300 {
				sleep := a.tick(now)
				for len(a.jobs) > 0 {
					j := <-a.jobs
					if j.act == actCancel {
						cancels++
					}
					a.apply(notExist(j))
				}
				step := max(sleep, time.Second)
				mono += step
				now = now.Add(step)
			}
			p, err := s.Get("sale")
			if err != nil {
				t.Fatal(err)
			}
			if cancels < 3 {
				t.Fatalf("%d cancels in the second run; the grace rule had no refusals to go by", cancels)
			}
			if ended := p.State == queue.Fail && p.Result.Code == codeNotExist; ended != tc.wantEnd {
				t.Errorf("payment %s %s after %d refused cancels, want ended by the grace rule: %v (track %+v)",
					p.State, p.Result.Code, cancels, tc.wantEnd, p.Track)
			}
		})
	}
}
