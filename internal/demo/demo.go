package demo

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/posagent/posagent/agent"
	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/queue"
)

// Options tune Run.
type Options struct {
	// Payments adds that many ordinary payments (paid after a few polls) to
	// the built-in mix.
	Payments int
	// InMemory connects the register and the agent with an in-memory line
	// even where pseudo-terminals exist.
	InMemory bool
}

// Demo timing: fast polling so the whole mix ends in seconds.
const (
	demoInterval    = 400 * time.Millisecond
	demoCancelAfter = 6 * time.Second
	demoCashierWait = 1500 * time.Millisecond // how long the cashier waits before pressing cancel
	demoLimit       = 50 * time.Second        // the demo gives up after this
)

// demoCase is one payment of the demo and the outcome it must have.
type demoCase struct {
	story  string // what happens, for the table
	script alipaysim.Script
	cancel bool   // the cashier presses cancel
	status string // expected RESULT status
	code   string // expected RESULT code; "" accepts any
}

// demoCases is the built-in mix, then n ordinary payments.
func demoCases(n int) []demoCase {
	steps := func(s ...alipaysim.Step) alipaysim.Script { return alipaysim.Script{Steps: s} }
	cases := []demoCase{
		{story: "paid after 3 polls", script: steps(alipaysim.Processing(3), alipaysim.Success()), status: "SUCCESS"},
		{story: "declined: balance too low", script: steps(alipaysim.Processing(1), alipaysim.Fail("USER_BALANCE_NOT_ENOUGH")), status: "FAIL", code: "USER_BALANCE_NOT_ENOUGH"},
		{story: "customer walks away: cancelled at the deadline", script: steps(), status: "CANCELLED", code: device.CodeTimeout},
		{story: "cashier presses cancel", script: steps(), cancel: true, status: "CANCELLED", code: device.CodeRegisterCancel},
		{story: "Alipay unsure (U, HTTP 500, unsigned) then paid", script: steps(alipaysim.Unknown(2), alipaysim.HTTP500(1), alipaysim.Unsigned(), alipaysim.Success()), status: "SUCCESS"},
		{story: "forged SUCCESS answers never pass", script: steps(alipaysim.Processing(1), alipaysim.Forged()), status: "CANCELLED", code: device.CodeTimeout},
		{story: "Alipay reports another amount: cancelled", script: steps(alipaysim.MismatchedAmount(alipay.Amount{Currency: "USD", Value: "1"})), status: "CANCELLED", code: device.CodeAmountMismatch},
	}
	for i := range n {
		cases = append(cases, demoCase{story: "ordinary payment", script: steps(alipaysim.Processing(i%4), alipaysim.Success()), status: "SUCCESS"})
	}
	return cases
}

// Run runs the agent between a simulated register and a simulated Alipay, with
// no configuration and no network: the simulated AMS server listens on loopback
// with keys made for the run, the store lives in a temporary folder, and the
// register talks to the agent over a pseudo-terminal pair (an in-memory line
// where there are none). It plays a mix of payments, writes each event to w
// as it happens and a table of outcomes at the end, and returns an error
// unless every payment ended as it should.
func Run(ctx context.Context, w io.Writer, opts Options) error {
	out := &lockedWriter{w: w}
	say := func(format string, args ...any) {
		fmt.Fprintf(out, "%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
	}
	ctx, cancel := context.WithTimeout(ctx, demoLimit)
	defer cancel()

	say("making fresh merchant and Alipay keys")
	merchantKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("make a merchant key: %w", err)
	}
	alipayKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("make an Alipay key: %w", err)
	}
	srv := alipaysim.NewServer(alipaysim.WithKeys(merchantKey, alipayKey))
	defer srv.Close()
	client, err := alipay.NewClient(srv.ClientConfig())
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "posagent-demo-")
	if err != nil {
		return fmt.Errorf("make a folder for the demo store: %w", err)
	}
	defer os.RemoveAll(dir)
	store, err := queue.Open(filepath.Join(dir, "demo.db"), queue.Options{})
	if err != nil {
		return err
	}
	defer store.Close()

	open := openDemoWire
	if opts.InMemory {
		open = openPipeWire
	}
	wire, err := open()
	if err != nil {
		return err
	}
	defer wire.close()
	say("simulated Alipay at %s, store in %s, register line: %s", srv.URL, dir, wire.desc)

	log := zerolog.New(zerolog.ConsoleWriter{Out: stampWriter{out}, NoColor: true, PartsExclude: []string{"time", "level"}}).
		Level(zerolog.InfoLevel)
	agentLine := device.NewLine(device.PortConfig{Path: wire.desc}, device.WithOpener(wire.agent), device.WithName("posagent demo"))
	a := agent.New(store, client, agentLine, agent.Options{
		Interval:    demoInterval,
		CancelAfter: demoCancelAfter,
		MaxRPS:      20,
		Log:         log,
	})
	reg := device.NewLine(device.PortConfig{Path: "register"}, device.WithRole(device.RoleRegister),
		device.WithOpener(wire.register), device.WithName("register simulator"))

	var wg sync.WaitGroup
	runCtx, stop := context.WithCancel(ctx)
	defer func() { stop(); wg.Wait() }()
	wg.Go(func() { a.Run(runCtx) })
	wg.Go(func() { reg.Run(runCtx) })

	cases := demoCases(opts.Payments)
	reqs := make([]string, len(cases))
	byReq := map[string]*demoCase{}
	for i := range cases {
		reqs[i] = fmt.Sprintf("demo-%02d", i+1)
		byReq[reqs[i]] = &cases[i]
		sc := cases[i].script
		sc.Amount = alipay.Amount{Currency: "USD", Value: strconv.Itoa(demoAmount(i))}
		srv.Script(reqs[i], sc)
	}

	// The register: send the PAYs one after the other, press cancel where
	// the story says so, confirm each RESULT with DONE.
	results := map[string]device.Result{}
	sendErr := make(chan error, 1)
	go func() {
		for i, req := range reqs {
			say("register  -> PAY    %s  %d.%02d USD  (%s)", req, demoAmount(i)/100, demoAmount(i)%100, cases[i].story)
			if err := reg.Send(runCtx, device.Pay{Req: req, Amount: int64(demoAmount(i)), Currency: "USD", Lane: "1"}); err != nil {
				sendErr <- err
				return
			}
			if cases[i].cancel {
				time.AfterFunc(demoCashierWait, func() {
					say("register  -> CANCEL %s  (the cashier pressed cancel)", req)
					reg.Send(runCtx, device.Cancel{Req: req})
				})
			}
			select {
			case <-time.After(150 * time.Millisecond): // a queue of customers, not a burst
			case <-runCtx.Done():
				return
			}
		}
	}()
	for len(results) < len(reqs) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the demo did not finish within %v: %d of %d payments have a result", demoLimit, len(results), len(reqs))
		case err := <-sendErr:
			return fmt.Errorf("the register simulator could not send: %w", err)
		case ev, ok := <-reg.Events():
			if !ok {
				return errors.New("the register simulator stopped")
			}
			rec, isMsg := ev.(device.Received)
			if !isMsg {
				continue
			}
			switch m := rec.Msg.(type) {
			case device.Status:
				say("register  <- STATUS %s  %s %s", m.Req, m.State, m.Code)
			case device.Result:
				say("register  <- RESULT %s  %s %s %q", m.Req, m.Status, m.Code, m.Msg)
				if _, seen := results[m.Req]; !seen && byReq[m.Req] != nil {
					results[m.Req] = m
				}
				reg.Send(runCtx, device.Done{Req: m.Req})
			}
		}
	}

	// Wait for the DONEs to be stored, so the table shows delivered results.
	for {
		s, changed := a.Watch()
		if s.Delivered >= uint64(len(reqs)) {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("the agent did not record every DONE within %v", demoLimit)
		}
	}
	stop()
	wg.Wait()
	return demoTable(out, store, reqs, byReq, results, srv.Calls())
}

// demoAmount is the amount, in cents, of the i-th demo payment.
func demoAmount(i int) int { return 1250 + 375*i }

// demoTable writes the outcome of each payment against the expected one and
// returns an error when any differs.
func demoTable(w io.Writer, store *queue.Store, reqs []string, byReq map[string]*demoCase, results map[string]device.Result, calls []alipaysim.Call) error {
	perReq := map[string]int{}
	for _, c := range calls {
		perReq[c.PaymentRequestID]++
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REQ\tSTORY\tEXPECTED\tRESULT\tCALLS\tDELIVERED\tOK")
	bad := 0
	for _, req := range reqs {
		c, r := byReq[req], results[req]
		want := c.status + " " + c.code
		got := r.Status + " " + r.Code
		p, err := store.Get(req)
		delivered := err == nil && p.Delivered()
		ok := r.Status == c.status && (c.code == "" || r.Code == c.code) && delivered && string(p.State) == r.Status
		mark := "yes"
		if !ok {
			mark, bad = "NO", bad+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%v\t%s\n", req, c.story, want, got, perReq[req], delivered, mark)
	}
	tw.Flush()
	if bad > 0 {
		return fmt.Errorf("%d of %d payments did not end as expected", bad, len(reqs))
	}
	fmt.Fprintf(w, "\nall %d payments ended as expected\n", len(reqs))
	return nil
}

// demoWire is the line between the simulated register and the agent.
type demoWire struct {
	desc     string
	agent    device.Opener
	register device.Opener
	close    func()
}

// lockedWriter serializes the lines of the agent's log and of the demo.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// stampWriter starts each write, one log line of the agent, with the time
// and "agent", to sit beside the register's lines.
type stampWriter struct{ w io.Writer }

func (s stampWriter) Write(p []byte) (int, error) {
	line := append([]byte(time.Now().Format("15:04:05.000")+"  agent     "), p...)
	if _, err := s.w.Write(line); err != nil {
		return 0, err
	}
	return len(p), nil
}
