package agent

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/queue"
)

// A payment salvage brought back may be an older copy of one the register
// was already sent SUCCESS for. Until Alipay says where it is, nothing
// cancels it (a refusal such as PROCESS_FAIL says nothing), and once Alipay
// says it is paid it ends SUCCESS, even where the copy shows the register's
// cancel under way: a cancel would refund a SUCCESS.
func TestRecoveredPaymentIsNotCancelledWithoutSayingWhereItIs(t *testing.T) {
	processFail := func(j job) outcome {
		return outcome{job: j, err: &alipay.Error{API: alipay.APIInquiry, Ref: j.ref, Class: alipay.Rejected,
			ResultStatus: "F", Code: "PROCESS_FAIL", HTTPStatus: 200, Verified: true}}
	}
	paid := func(j job) outcome {
		return outcome{job: j, inquiry: &alipay.InquiryResponse{Result: alipay.Result{Status: "S", Code: "SUCCESS"},
			PaymentStatus: alipay.StatusSuccess, PaymentRequestID: j.ref.PaymentRequestID, PaymentID: "2026001",
			PaymentAmount: alipay.Amount{Currency: "USD", Value: "100"}, PaymentResultCode: "SUCCESS"}}
	}
	for _, tc := range []struct {
		name    string
		stored  string // the reason of the cancel the saved copy has under way; "": PENDING
		answers []func(job) outcome
	}{
		{"past its deadline, refused", "", []func(job) outcome{processFail, processFail, paid}},
		{"past its deadline, paid", "", []func(job) outcome{paid}},
		{"the register's cancel under way, refused", device.CodeRegisterCancel, []func(job) outcome{processFail, paid}},
		{"the register's cancel under way, paid", device.CodeRegisterCancel, []func(job) outcome{paid}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
			path := filepath.Join(t.TempDir(), "payments.db")
			s, err := queue.Open(path, queue.Options{Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			for _, req := range []string{"sale", "other"} {
				if _, _, err := s.Accept(queue.Payment{RequestID: req, Amount: 100, Currency: "USD",
					AcceptedAt: now.Add(-2 * time.Minute), Deadline: now.Add(-time.Minute)}); err != nil {
					t.Fatal(err)
				}
			}
			if tc.stored != "" {
				if err := s.StartCancel("sale", tc.stored, now); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			damageRecord(t, path, "other")
			s, err = queue.Open(path, queue.Options{Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if p, err := s.Get("sale"); err != nil || !p.Recovered {
				t.Fatalf("the payment is not flagged recovered after the salvage (%v)", err)
			}
			var mono time.Duration
			a := New(s, simNoAlipay{}, simNoRegister{}, Options{Interval: simInterval, CancelAfter: simCancelAfter, MaxRPS: simMaxRPS, Now: func() time.Time { return now },
				Mono: func() time.Duration { return mono }, Workers: simWorkers})
			if err := a.resume(); err != nil {
				t.Fatal(err)
			}
			answers := tc.answers
			for i := 0; len(answers) > 0 && i < 100; i++ {
				sleep := a.tick(now)
				for len(a.jobs) > 0 {
					j := <-a.jobs
					if j.act == actCancel {
						t.Fatalf("a cancel after %d of the answers", len(tc.answers)-len(answers))
					}
					a.apply(answers[0](j))
					answers = answers[1:]
				}
				mono += max(sleep, time.Second)
				now = now.Add(max(sleep, time.Second))
			}
			p, err := s.Get("sale")
			if err != nil {
				t.Fatal(err)
			}
			if p.State != queue.Success || p.Recovered {
				t.Errorf("after the answers the payment is %s (recovered %v), want SUCCESS", p.State, p.Recovered)
			}
		})
	}
}
