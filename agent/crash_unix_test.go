//go:build unix

package agent

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/alipay/alipaytest"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/internal/postest"
	"github.com/posagent/posagent/queue"
)

// TestCrashLosesNothing runs the real binary against a register on a pty
// and the fake AMS server, kills it with SIGKILL at random moments while
// payments flow over a bad line (flipped bits, withheld ACKs, noise; see
// lineFaults), and starts it again each time. At the end every accepted
// payment has one final status, the right one, every RESULT sent for it
// carried that status, and no SUCCESS was sent for a payment Alipay did not
// sign as paid.
func TestCrashLosesNothing(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("the crash test builds the binary and runs for a while")
	}
	if os.Geteuid() != 0 {
		t.Skip("reopening a pty whose holder was killed needs root (TIOCEXCL outlives the holder)")
	}
	dir := t.TempDir()
	bin := postest.BuildPosagent(t, dir)

	srv := alipaytest.NewServer(t)
	priv, pub, err := srv.WriteKeyFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	line := postest.PTY(t)
	port := filepath.Join(dir, "ttyREGISTER")
	if err := os.Symlink(line.Path, port); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "posagent.db")
	config := filepath.Join(dir, "posagent.toml")
	postest.WriteConfig(t, config, port, srv, priv, pub, fmt.Sprintf(`timeout = "2s"
[polling]
interval = "1s"
cancel_after = "10s"
max_rps = 100
[storage]
path = %q
[log]
level = "warn"
file = %q
[status]
listen = ""
`, db, filepath.Join(dir, "posagent.log")))

	// The payments and how each must end.
	type want struct{ status, code string }
	expected := map[string]want{}
	var reqs []string
	for i := range 24 {
		req := fmt.Sprintf("crash-%02d", i)
		var sc alipaysim.Script
		var w want
		switch i % 6 {
		case 0, 1:
			sc.Steps = []alipaysim.Step{alipaysim.Processing(i % 4), alipaysim.Success()}
			w = want{"SUCCESS", ""}
		case 2:
			sc.Steps = []alipaysim.Step{alipaysim.Processing(1), alipaysim.Fail("USER_BALANCE_NOT_ENOUGH")}
			w = want{"FAIL", "USER_BALANCE_NOT_ENOUGH"}
		case 3:
			w = want{"CANCELLED", device.CodeTimeout} // PROCESSING forever
		case 4:
			sc.Steps = []alipaysim.Step{alipaysim.Forged()}
			w = want{"CANCELLED", device.CodeTimeout}
		case 5:
			sc.Steps = []alipaysim.Step{alipaysim.MismatchedAmount(alipay.Amount{Currency: "USD", Value: "1"})}
			w = want{"CANCELLED", device.CodeAmountMismatch}
		}
		srv.Script(req, sc)
		expected[req] = w
		reqs = append(reqs, req)
	}

	faults := newLineFaults(t)
	reg := newCrashRegister(t, line.Master, faults)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go reg.payAll(ctx, reqs)

	// Kill the agent at random moments while the payments flow.
	const kills = 22
	for i := range kills {
		cmd := startAgent(t, bin, config)
		time.Sleep(time.Duration(50+rand.IntN(700)) * time.Millisecond) // a random moment to crash at, not a wait for an event
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		cmd.Wait()
	}

	accepted, results := reg.received()
	before := 0
	for _, rs := range results {
		before += len(rs)
	}
	t.Logf("%d kills; by then %d payments accepted, %d RESULT frames received, %d Alipay calls made; on the line: %v", kills, len(accepted), before, len(srv.Calls()), faults)

	// A last run that is left to finish everything.
	cmd := startAgent(t, bin, config)
	reg.waitAll(t, reqs)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("the last agent did not stop cleanly on SIGTERM: %v", err)
	}
	cancel()

	store, err := queue.Open(db, queue.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, results = reg.received()
	frames := 0
	for _, rs := range results {
		frames += len(rs)
	}
	t.Logf("at the end: %d RESULT frames for %d payments, %d Alipay calls; on the line: %v", frames, len(reqs), len(srv.Calls()), faults)
	for _, req := range reqs {
		w := expected[req]
		if len(results[req]) == 0 {
			t.Errorf("%s: no RESULT", req)
			continue
		}
		for _, r := range results[req] {
			if r.Status != w.status || (w.code != "" && r.Code != w.code) {
				t.Errorf("%s: a RESULT said %s %s, want %s %s", req, r.Status, r.Code, w.status, w.code)
			}
		}
		p, err := store.Get(req)
		if err != nil {
			t.Errorf("%s: %v", req, err)
			continue
		}
		if string(p.State) != w.status {
			t.Errorf("%s: stored %s, want %s", req, p.State, w.status)
		}
	}
	all, _ := store.List(queue.Filter{})
	if len(all) != len(reqs) {
		t.Errorf("store holds %d payments, want %d", len(all), len(reqs))
	}
	for _, c := range srv.Calls() {
		if c.API == alipay.APICancel && c.PaymentRequestID != "" && expected[c.PaymentRequestID].status == "SUCCESS" {
			t.Errorf("%s was paid but cancelled: %+v", c.PaymentRequestID, c)
		}
	}
}

func startAgent(t *testing.T, bin, config string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "run", "-config", config)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// crashRegister is the register of the crash test: a device.Register that
// confirms every RESULT with DONE and sends each PAY again until it is
// answered ACCEPTED or final (as a register does after T3).
type crashRegister struct{ *device.Register }

func newCrashRegister(t *testing.T, master *os.File, faults *lineFaults) *crashRegister {
	reg := device.NewRegister(device.PortConfig{Path: "register"},
		device.WithOpener(func(ctx context.Context) (device.Conn, error) {
			// The same pty master for every session: a link down (the
			// agent was killed) must not close it.
			master.SetReadDeadline(time.Time{})
			return faults.on(sessionConn{master}), nil
		}))
	reg.SetAutoDone(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); reg.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; master.Close() })
	return &crashRegister{reg}
}

// payAll sends the PAYs one after the other, each again every 2 s until it
// is answered.
func (r *crashRegister) payAll(ctx context.Context, reqs []string) {
	for _, req := range reqs {
		for {
			r.Pay(ctx, device.Pay{Req: req, Amount: 100, Currency: "USD"})
			wait, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := r.WaitMessage(wait, func(m device.Message) bool {
				s, ok := m.(device.Status)
				return ok && s.Req == req && (s.State == "ACCEPTED" || device.IsFinal(s.State))
			})
			cancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// waitAll waits until every payment has a RESULT.
func (r *crashRegister) waitAll(t *testing.T, reqs []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, req := range reqs {
		_, err := r.WaitMessage(ctx, func(m device.Message) bool {
			res, ok := m.(device.Result)
			return ok && res.Req == req
		})
		if err != nil {
			t.Fatal("gave up waiting for every payment's RESULT")
		}
	}
}

// received returns the payments answered ACCEPTED or final so far, and
// every RESULT received for each payment.
func (r *crashRegister) received() (accepted map[string]bool, results map[string][]device.Result) {
	accepted, results = map[string]bool{}, map[string][]device.Result{}
	for _, rec := range r.Messages() {
		if rec.Out {
			continue
		}
		switch m := rec.Msg.(type) {
		case device.Status:
			if m.State == "ACCEPTED" || device.IsFinal(m.State) {
				accepted[m.Req] = true
			}
		case device.Result:
			results[m.Req] = append(results[m.Req], m)
		}
	}
	return accepted, results
}

// sessionConn is the pty master for one session of the register's line:
// closing it ends a pending Read (through a deadline) but keeps the master,
// and so the pty pair, open for the next session.
type sessionConn struct{ f *os.File }

func (c sessionConn) Read(p []byte) (int, error)  { return c.f.Read(p) }
func (c sessionConn) Write(p []byte) (int, error) { return c.f.Write(p) }
func (c sessionConn) Drain() error                { return nil }
func (c sessionConn) Close() error                { return c.f.SetReadDeadline(time.Unix(1, 0)) }
