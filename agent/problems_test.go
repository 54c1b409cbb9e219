package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/queue"
)

// One payment is one payment towards the wrong-merchant problem, however
// often its look at the deadline is applied: again after the store refused
// to commit its answer, or at each unanswered look of a payment salvage
// brought back (which stays PENDING and looks again).
func TestOnePaymentCountsOnceTowardsTheWrongMerchantProblem(t *testing.T) {
	notExist := func(j job) outcome {
		return outcome{job: j, inquiry: &alipay.InquiryResponse{Result: alipay.Result{Status: "F", Code: codeNotExist}},
			err: &alipay.Error{API: alipay.APIInquiry, Ref: j.ref, Class: alipay.Rejected, ResultStatus: "F", Code: codeNotExist, HTTPStatus: 200, Verified: true}}
	}
	timeout := func(j job) outcome {
		return outcome{job: j, err: &alipay.Error{API: alipay.APIInquiry, Ref: j.ref, Class: alipay.Unknown, Err: context.DeadlineExceeded}}
	}
	for _, tc := range []struct {
		name   string
		reopen func(t *testing.T, path string) queue.Options // breaks the store before the agent starts on it
		answer func(job) outcome
	}{
		{"the store refuses the commit", func(*testing.T, string) queue.Options { return queue.Options{ReadOnly: true} }, notExist},
		{"salvage brought it back", func(t *testing.T, path string) queue.Options {
			damageRecord(t, path, "paid")
			return queue.Options{}
		}, timeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
			path := filepath.Join(t.TempDir(), "payments.db")
			s, err := queue.Open(path, queue.Options{Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			for _, req := range []string{"absent", "paid"} {
				if _, _, err := s.Accept(queue.Payment{RequestID: req, Amount: 100, Currency: "USD",
					AcceptedAt: now.Add(-2 * time.Minute), Deadline: now.Add(-time.Minute)}); err != nil {
					t.Fatal(err)
				}
			}
			// Every answer about "absent" so far was ORDER_NOT_EXIST.
			if _, err := s.Apply("absent", queue.Step{Track: &queue.Track{Absent: 2}, Next: now}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Apply("paid", queue.Step{Result: &queue.Result{Status: queue.Success, Code: "SUCCESS"}}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			opts := tc.reopen(t, path)
			opts.Now = func() time.Time { return now }
			s, err = queue.Open(path, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var mono time.Duration
			a := New(s, simNoAlipay{}, simNoRegister{}, Options{Interval: simInterval, CancelAfter: simCancelAfter, MaxRPS: simMaxRPS, Now: func() time.Time { return now },
				Mono: func() time.Duration { return mono }, Workers: simWorkers})
			if err := a.resume(); err != nil {
				t.Fatal(err)
			}
			looks := 0
			for range 40 {
				sleep := a.tick(now)
				for len(a.jobs) > 0 {
					j := <-a.jobs
					if j.act == actLook {
						looks++
					}
					a.apply(tc.answer(j))
				}
				mono += max(sleep, time.Second)
				now = now.Add(max(sleep, time.Second))
			}
			if looks == 0 {
				t.Fatal("the payment was never looked at")
			}
			// The watcher's problems are published at the next call's end;
			// the test reads them where they stand.
			if p := a.watcher.problem(); strings.Contains(p, "knows none") {
				t.Errorf("one payment unknown to Alipay (%d looks) raised the wrong-merchant problem: %q", looks, p)
			}
		})
	}
}

// damageRecord flips a bit in every copy of payment req's record in the
// closed store file at path, so that the next Open salvages the file (and
// flags every unfinished payment Recovered).
func damageRecord(t *testing.T, path, req string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		at := bytes.Index(data[i:], []byte(`{"req":"`+req+`"`))
		if at < 0 {
			break
		}
		i += at
		data[i+2] ^= 1
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
