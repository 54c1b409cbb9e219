//go:build unix

package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/alipay/alipaytest"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/internal/postest"
	"github.com/posagent/posagent/queue"
)

// rig is a running agent between a register on a real pseudo-terminal and
// the fake AMS server on loopback, with its store in a temporary folder.
type rig struct {
	t      testing.TB
	srv    *alipaysim.Server
	client *alipay.Client
	dbPath string
	slave  string // the pty path the agent opens
	reg    *testRegister

	storeOpts queue.Options // how start opens the store
	store     *queue.Store
	agent     *Agent
	stop      context.CancelFunc
	done      chan error
}

// testOptions are fast polling settings for tests.
func testOptions() Options {
	return Options{Interval: 20 * time.Millisecond, CancelAfter: 3 * time.Second, MaxRPS: 200}
}

func newRig(t testing.TB) *rig {
	t.Helper()
	return newRigWith(t, nil)
}

// newRigWith is newRig with the register's connection passed through wrap,
// unless nil.
func newRigWith(t testing.TB, wrap func(device.Conn) device.Conn) *rig {
	t.Helper()
	// The agent opens the terminal side by path with go.bug.st/serial, as
	// in the field; the pair lives as long as the test, across agents.
	p := postest.PTY(t)
	srv := alipaytest.NewServer(t)
	client, err := alipay.NewClient(srv.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, srv: srv, client: client, dbPath: filepath.Join(t.TempDir(), "posagent.db"), slave: p.Path}
	open := p.Opener()
	if wrap != nil {
		open = func(ctx context.Context) (device.Conn, error) {
			c, err := p.Opener()(ctx)
			if err != nil {
				return nil, err
			}
			return wrap(c), nil
		}
	}
	r.reg = startRegisterWith(t, open)
	return r
}

// start runs a new agent on the rig's store.
func (r *rig) start(opts Options) {
	r.t.Helper()
	store, err := queue.Open(r.dbPath, r.storeOpts)
	if err != nil {
		r.t.Fatal(err)
	}
	if os.Getenv("POSAGENT_TEST_LOG") != "" {
		opts.Log = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"}).With().Timestamp().Logger()
	}
	line := device.NewLine(device.PortConfig{Path: r.slave}, device.WithLogger(opts.Log))
	r.store = store
	r.agent = New(store, r.client, line, opts)
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	r.done = make(chan error, 1)
	go func() { r.done <- r.agent.Run(ctx) }()
	r.t.Cleanup(r.halt)
}

// halt stops the agent, waits for Run to return and closes the store.
func (r *rig) halt() {
	if r.stop == nil {
		return
	}
	r.stop()
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("Run: %v", err)
		}
	case <-time.After(postest.Guard):
		r.t.Fatal("agent did not stop")
	}
	r.store.Close()
	r.stop = nil
}

// waitAgent waits until ok, called at each change of the agent's state,
// reports true.
func (r *rig) waitAgent(what string, ok func(Snapshot) bool) {
	r.t.Helper()
	deadline := time.After(postest.Guard)
	for {
		s, changed := r.agent.Watch()
		if ok(s) {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			r.t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// pay sends a PAY and returns the STATUS that answers it.
func (r *rig) pay(req string, amount int64, expiry time.Duration) device.Status {
	r.t.Helper()
	return r.reg.request(device.Pay{Req: req, Amount: amount, Currency: "USD", Expiry: expiry})
}

// testRegister is a device.Register on the master side of the pty, which
// records what the agent sends and confirms every RESULT with DONE unless
// SetAutoDone(false); its waits fail the test after postest.Guard.
type testRegister struct {
	*device.Register
	t testing.TB
}

// startRegister starts a register simulator on the master end of p, that
// confirms every RESULT with DONE.
func startRegister(t testing.TB, p *device.PTY) *testRegister {
	// One pty for the whole test, which the register opens again after a
	// link down, as a register does whose agent was off for a while.
	return startRegisterWith(t, p.Opener())
}

// startRegisterWith starts a register simulator that opens its port with
// open.
func startRegisterWith(t testing.TB, open device.Opener) *testRegister {
	reg := device.NewRegister(device.PortConfig{Path: "register"}, device.WithOpener(open))
	reg.SetAutoDone(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		reg.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return &testRegister{Register: reg, t: t}
}

// request sends m and returns the first new STATUS for its req.
func (r *testRegister) request(m device.Message) device.Status {
	r.t.Helper()
	return r.requestFor(m, reqOf(m))
}

// requestFor sends m and returns the first new STATUS whose req is req.
func (r *testRegister) requestFor(m device.Message, req string) device.Status {
	r.t.Helper()
	from := r.Seen()
	if err := r.Send(context.Background(), m); err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), postest.Guard)
	defer cancel()
	m, err := r.WaitMessageFrom(ctx, from, func(m device.Message) bool { s, ok := m.(device.Status); return ok && s.Req == req })
	if err != nil {
		r.t.Fatalf("register: gave up waiting for the STATUS for %s", req)
	}
	return m.(device.Status)
}

// result waits for the first RESULT for req.
func (r *testRegister) result(req string) device.Result {
	r.t.Helper()
	return r.nth("RESULT for "+req, 0, resultFor(req)).(device.Result)
}

// waitResults waits until n RESULTs for req have come.
func (r *testRegister) waitResults(req string, n int) {
	r.t.Helper()
	r.nth(fmt.Sprintf("RESULT %d for %s", n, req), n-1, resultFor(req))
}

// resultsFor returns every RESULT received for req so far.
func (r *testRegister) resultsFor(req string) []device.Result {
	var out []device.Result
	for _, m := range r.received(resultFor(req)) {
		out = append(out, m.(device.Result))
	}
	return out
}

// received returns the messages received so far for which match is true.
func (r *testRegister) received(match func(device.Message) bool) []device.Message {
	var out []device.Message
	for _, rec := range r.Messages() {
		if !rec.Out && match(rec.Msg) {
			out = append(out, rec.Msg)
		}
	}
	return out
}

// nth returns the message received after the first n for which match is
// true, waiting for it. WaitMessage offers each received message once, in
// order, so counting the matches skips the first n.
func (r *testRegister) nth(what string, n int, match func(device.Message) bool) device.Message {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), postest.Guard)
	defer cancel()
	matched := 0
	m, err := r.WaitMessage(ctx, func(m device.Message) bool {
		if !match(m) {
			return false
		}
		matched++
		return matched > n
	})
	if err != nil {
		r.t.Fatalf("register: gave up waiting for %s", what)
	}
	return m
}

// resultFor returns a match for the RESULTs for req.
func resultFor(req string) func(device.Message) bool {
	return func(m device.Message) bool { res, ok := m.(device.Result); return ok && res.Req == req }
}

func reqOf(m device.Message) string {
	switch m := m.(type) {
	case device.Pay:
		return m.Req
	case device.Cancel:
		return m.Req
	case device.Query:
		return m.Req
	case device.Done:
		return m.Req
	}
	return ""
}
