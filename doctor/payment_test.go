package doctor

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/agent/status"
	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/queue"
)

// storedPayment is a payment in the store, accepted age ago, and what the
// fake Alipay plays for it (nothing: it does not know it).
type storedPayment struct {
	req    string
	age    time.Duration
	script *alipaysim.Script
}

// accept accepts ps into the setup's store, as the agent would at the
// register's PAY, and scripts the fake Alipay for them.
func (s *doctorSetup) accept(t *testing.T, st *queue.Store, ps ...storedPayment) {
	t.Helper()
	now := time.Now()
	for _, p := range ps {
		if _, _, err := st.Accept(queue.Payment{
			RequestID:  p.req,
			Amount:     100,
			Currency:   "USD",
			AcceptedAt: now.Add(-p.age),
			Deadline:   now.Add(-p.age + time.Minute),
		}); err != nil {
			t.Fatal(err)
		}
		if p.script != nil {
			s.srv.Script(p.req, *p.script)
		}
	}
}

// acceptClosed stores ps with no agent running.
func (s *doctorSetup) acceptClosed(t *testing.T, ps ...storedPayment) {
	t.Helper()
	st, err := queue.Open(s.store, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s.accept(t, st, ps...)
}

// neverCancels fails the test when doctor asked Alipay to cancel: it may
// only inquire (and fetch the endpoint's root for its Date).
func neverCancels(t *testing.T, srv *alipaysim.Server) {
	t.Helper()
	for _, c := range srv.Calls() {
		if c.API == alipay.APICancel {
			t.Errorf("doctor called %s for %q at Alipay; it may only inquire", c.API, c.PaymentRequestID)
		}
	}
}

func TestDoctorAsksAlipayAboutTheLastPayment(t *testing.T) {
	script := func(steps ...alipaysim.Step) *alipaysim.Script { return &alipaysim.Script{Steps: steps} }
	tests := []struct {
		name      string
		payments  []storedPayment
		wantLevel string
		wantText  []string
		wantAsked string // the paymentRequestId the check asks about; none when empty
	}{
		{
			name:      "Alipay knows the payment",
			payments:  []storedPayment{{"pos-1", 5 * time.Minute, script(alipaysim.Success())}},
			wantLevel: "OK",
			wantText:  []string{"Alipay knows payment pos-1", "(SUCCESS)"},
			wantAsked: "pos-1",
		},
		{
			name:      "Alipay knows the payment while it is open",
			payments:  []storedPayment{{"pos-1", 5 * time.Second, script(alipaysim.Processing(1))}},
			wantLevel: "OK",
			wantText:  []string{"Alipay knows payment pos-1", "(PROCESSING)"},
			wantAsked: "pos-1",
		},
		{
			name:      "Alipay refuses something about the payment it knows",
			payments:  []storedPayment{{"pos-1", time.Hour, script(alipaysim.Refuse("PROCESS_FAIL"))}},
			wantLevel: "OK",
			wantText:  []string{"Alipay knows payment pos-1", "(F PROCESS_FAIL)"},
			wantAsked: "pos-1",
		},
		{
			name: "the newest of the last 24 hours is asked about",
			payments: []storedPayment{
				{"pos-1", 3 * time.Hour, nil},
				{"pos-2", 2 * time.Minute, script(alipaysim.Success())},
				{"pos-3", 20 * time.Minute, nil},
			},
			wantLevel: "OK",
			wantText:  []string{"Alipay knows payment pos-2"},
			wantAsked: "pos-2",
		},
		{
			name:      "Alipay has no record of the payment",
			payments:  []storedPayment{{"pos-1", 5 * time.Minute, nil}},
			wantLevel: "WARN",
			wantText: []string{
				"Alipay has no record of payment pos-1, accepted at",
				"check alipay.client_id, alipay.merchant_account_id, and SANDBOX_ versus live",
			},
			wantAsked: "pos-1",
		},
		{
			name:      "no payment in the last 24 hours",
			payments:  []storedPayment{{"pos-1", 25 * time.Hour, script(alipaysim.Success())}},
			wantLevel: "SKIP",
			wantText:  []string{"no payment was accepted in the last 24 hours"},
		},
		{
			name:      "an answer that does not verify",
			payments:  []storedPayment{{"pos-1", 5 * time.Minute, script(alipaysim.Forged())}},
			wantLevel: "WARN",
			wantText:  []string{"answer about payment pos-1 does not verify", "alipay.alipay_public_key_file"},
			wantAsked: "pos-1",
		},
		{
			name:      "an answer that says nothing either way",
			payments:  []storedPayment{{"pos-1", 5 * time.Minute, script(alipaysim.Unknown(1))}},
			wantLevel: "WARN",
			wantText:  []string{"Alipay answered U UNKNOWN_EXCEPTION about payment pos-1"},
			wantAsked: "pos-1",
		},
		{
			name:      "no answer at all",
			payments:  []storedPayment{{"pos-1", 5 * time.Minute, script(alipaysim.HTTP500(1))}},
			wantLevel: "WARN",
			wantText:  []string{"no usable answer about payment pos-1"},
			wantAsked: "pos-1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newDoctorSetup(t)
			s.acceptClosed(t, tt.payments...)
			s.write(t)
			ok, lines, out := s.run(t, time.Now)
			if !ok {
				t.Errorf("Doctor failed; the payment check only warns")
			}
			line := lines["payment"]
			if !strings.HasPrefix(line, tt.wantLevel+" ") {
				t.Errorf("payment line = %q, want %s", line, tt.wantLevel)
			}
			for _, text := range tt.wantText {
				if !strings.Contains(line, text) {
					t.Errorf("payment line = %q, want it to say %q", line, text)
				}
			}
			var asked []string
			for _, c := range s.srv.Calls() {
				if c.PaymentRequestID != "" && !strings.HasPrefix(c.PaymentRequestID, "posagent-doctor-") {
					asked = append(asked, c.PaymentRequestID)
				}
			}
			if want := strings.Fields(tt.wantAsked); strings.Join(asked, " ") != strings.Join(want, " ") {
				t.Errorf("doctor asked Alipay about %q, want %q", asked, want)
			}
			neverCancels(t, s.srv)
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}

// runAgentEndpoint plays a running agent for doctor: it holds the store's
// lock, as the agent does, and serves the status endpoints on loopback with
// the given operator problem. It returns the store and the address for
// status.listen.
func runAgentEndpoint(t *testing.T, path, problem string) (*queue.Store, string) {
	t.Helper()
	st, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	started := time.Now()
	srv := httptest.NewServer(status.NewServer(status.Options{
		Source: status.SourceFunc(func() status.Snapshot {
			return status.Snapshot{
				Started: started,
				Taken:   time.Now(),
				Alipay:  status.Alipay{OperatorProblem: problem},
				Store:   status.Store{Open: true, Path: path},
			}
		}),
		Payments: st,
	}))
	t.Cleanup(srv.Close)
	return st, srv.Listener.Addr().String()
}

func TestDoctorReportsTheRunningAgentsOperatorProblem(t *testing.T) {
	t.Parallel()
	const absent = "Alipay knows none of this register's payments: check alipay.client_id, alipay.merchant_account_id, and SANDBOX_ versus live"
	type want struct{ level, text string }
	tests := []struct {
		name    string
		problem string
		listen  func(t *testing.T, running string) string // status.listen in the config
		wantOK  bool
		agent   want
		payment want
	}{
		{
			name:    "no operator problem",
			listen:  func(_ *testing.T, running string) string { return running },
			wantOK:  true,
			agent:   want{"OK", "reports no operator problem"},
			payment: want{"OK", "Alipay knows payment pos-7"},
		},
		{
			name:    "Alipay knows none of the payments",
			problem: absent,
			listen:  func(_ *testing.T, running string) string { return running },
			wantOK:  false,
			agent:   want{"FAIL", "the running posagent needs an operator: " + absent},
			payment: want{"OK", "Alipay knows payment pos-7"},
		},
		{
			name:    "answers that do not verify",
			problem: "5 answers in a row from Alipay did not verify with alipay.alipay_public_key_file (/etc/posagent/alipay_public_key.pem): the key is wrong or Alipay rotated it; put Alipay's current public key there and restart posagent",
			listen:  func(_ *testing.T, running string) string { return running },
			wantOK:  false,
			agent:   want{"FAIL", "did not verify with alipay.alipay_public_key_file (/etc/posagent/alipay_public_key.pem)"},
			payment: want{"OK", "Alipay knows payment pos-7"},
		},
		{
			name:    "status endpoint off",
			problem: absent,
			listen:  func(*testing.T, string) string { return "" },
			wantOK:  true,
			agent:   want{"SKIP", "status.listen is empty"},
			payment: want{"SKIP", "status.listen is empty"},
		},
		{
			name:    "status endpoint does not answer",
			problem: absent,
			listen:  func(t *testing.T, _ string) string { return closedPort(t) },
			wantOK:  true,
			agent:   want{"SKIP", "cannot read the running posagent's state"},
			payment: want{"SKIP", "cannot read the newest stored payment"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newDoctorSetup(t)
			st, running := runAgentEndpoint(t, s.store, tt.problem)
			s.accept(t, st, storedPayment{"pos-7", 10 * time.Minute, &alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}}})
			s.listen = tt.listen(t, running)
			s.write(t)
			ok, lines, out := s.run(t, time.Now)
			if ok != tt.wantOK {
				t.Errorf("Doctor = %v, want %v", ok, tt.wantOK)
			}
			for check, w := range map[string]want{
				"store":   {"OK", "in use by a running posagent"},
				"agent":   tt.agent,
				"payment": tt.payment,
			} {
				line := lines[check]
				if !strings.HasPrefix(line, w.level+" ") || !strings.Contains(line, w.text) {
					t.Errorf("%s line = %q, want %s with %q", check, line, w.level, w.text)
				}
			}
			neverCancels(t, s.srv)
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}
