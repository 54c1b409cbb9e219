package device

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/posagent/posagent/device/devicetest"
)

// agentSide runs a Line in the agent role and collects its events.
type agentSide struct {
	t      *testing.T
	line   *Line
	events chan Event
}

func startAgent(t *testing.T, line *Line) *agentSide {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a := &agentSide{t: t, line: line, events: make(chan Event, 10000)}
	done := make(chan error, 1)
	go func() { done <- line.Run(ctx) }()
	go func() {
		for ev := range line.Events() {
			a.events <- ev
		}
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent Run: %v", err)
		}
	})
	return a
}

// wait returns the next event for which match is true, skipping others.
func (a *agentSide) wait(ctx context.Context, what string, match func(Event) bool) Event {
	a.t.Helper()
	for {
		select {
		case ev := <-a.events:
			if match(ev) {
				return ev
			}
		case <-ctx.Done():
			a.t.Fatalf("agent never saw %s", what)
			return nil
		}
	}
}

func received[M Message](match func(M) bool) func(Event) bool {
	return func(ev Event) bool {
		rc, ok := ev.(Received)
		if !ok {
			return false
		}
		m, ok := rc.Msg.(M)
		return ok && match(m)
	}
}

func isEvent[E Event](ev Event) bool { _, ok := ev.(E); return ok }

// startRegister runs r until the test ends.
func startRegister(t *testing.T, r *Register) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("register Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// openOnce opens c the first time and then waits for the end, as a cable's
// far end cannot be reopened.
func openOnce(c Conn) Opener {
	var once sync.Once
	return func(ctx context.Context) (Conn, error) {
		var conn Conn
		once.Do(func() { conn = c })
		if conn != nil {
			return conn, nil
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}
}

func waitMsg[M Message](t *testing.T, ctx context.Context, r *Register, match func(M) bool) M {
	t.Helper()
	m, err := r.WaitMessage(ctx, func(m Message) bool {
		x, ok := m.(M)
		return ok && match(x)
	})
	if err != nil {
		var zero M
		t.Fatalf("register never received the %T: %v", zero, err)
	}
	return m.(M)
}

// exchange runs one payment through: PAY, STATUS ACCEPTED, RESULT, DONE (the
// register answers RESULT itself).
func exchange(t *testing.T, ctx context.Context, agent *agentSide, reg *Register, req string) {
	t.Helper()
	if err := reg.Pay(ctx, Pay{Req: req, Amount: 1250, Currency: "EUR", Lane: "3"}); err != nil {
		t.Fatal(err)
	}
	agent.wait(ctx, "the PAY", received(func(p Pay) bool { return p.Req == req && p.Amount == 1250 && p.Lane == "3" }))
	if err := agent.line.Send(ctx, Status{Req: req, State: StateAccepted}); err != nil {
		t.Fatal(err)
	}
	waitMsg(t, ctx, reg, func(s Status) bool { return s.Req == req && s.State == StateAccepted })
	res := Result{Req: req, Status: StateSuccess, PID: "2026113012", Amount: 1250, Currency: "EUR", Code: "SUCCESS", Msg: "Paid", Time: "2026-11-30T12:01:01+08:00"}
	if err := agent.line.Send(ctx, res); err != nil {
		t.Fatal(err)
	}
	if got := waitMsg(t, ctx, reg, func(r Result) bool { return r.Req == req }); got != res {
		t.Fatalf("register got %#v, want %#v", got, res)
	}
	agent.wait(ctx, "the DONE", received(func(d Done) bool { return d.Req == req }))
}

func TestWholeExchangeOverPty(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	p := newPty(t)
	agent := startAgent(t, NewLine(PortConfig{Path: p.slave}, WithName("posagent test")))
	reg := NewRegister(PortConfig{}, WithOpener(openOnce(fileConn{p.master})))
	reg.SetAutoDone(true)
	startRegister(t, reg)

	// Both sides complete a HELLO exchange.
	agent.wait(ctx, "a completed HELLO", isEvent[HelloDone])
	if _, err := reg.WaitEvent(ctx, isEvent[HelloDone]); err != nil {
		t.Fatal(err)
	}
	exchange(t, ctx, agent, reg, "pos-1")
	exchange(t, ctx, agent, reg, "pos-2")

	// CANCEL and QUERY go through too, and an invalid PAY comes back as a
	// value the agent answers REJECTED INVALID_FIELD with.
	if err := reg.Cancel(ctx, "pos-3"); err != nil {
		t.Fatal(err)
	}
	agent.wait(ctx, "the CANCEL", received(func(c Cancel) bool { return c.Req == "pos-3" }))
	if err := reg.Query(ctx, "pos-3"); err != nil {
		t.Fatal(err)
	}
	agent.wait(ctx, "the QUERY", received(func(q Query) bool { return q.Req == "pos-3" }))
	if err := reg.Pay(ctx, Pay{Req: "pos-4", Amount: 0, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	ev := agent.wait(ctx, "the invalid PAY", isEvent[Invalid]).(Invalid)
	if ev.Req != "pos-4" || ev.Err.Error() != "amt: 1-18 digits, no leading zero" {
		t.Fatalf("invalid PAY reported as %#v (%v)", ev, ev.Err)
	}
	if err := agent.line.Send(ctx, Status{Req: ev.Req, State: StateRejected, Code: CodeInvalidField, Msg: ev.Err.Error()}); err != nil {
		t.Fatal(err)
	}
	st := waitMsg(t, ctx, reg, func(s Status) bool { return s.Req == "pos-4" })
	if st.State != StateRejected || st.Msg != "amt: 1-18 digits, no leading zero" {
		t.Fatalf("register got %#v", st)
	}

	// The register's record holds the frames with their times, and no frame
	// went bad on the pty.
	frames := reg.Frames()
	var acks int
	for _, f := range frames {
		if f.Err != nil {
			t.Fatalf("a frame went bad: %v", f.Err)
		}
		if f.At.IsZero() || len(f.Raw) == 0 {
			t.Fatalf("frame record without time or bytes: %+v", f)
		}
		if f.Frame.Type == TypeAck {
			acks++
		}
	}
	if acks < 10 {
		t.Fatalf("only %d ACKs recorded", acks)
	}
}

func TestUnplugMidFrameAndReplugBehindTheSamePath(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	first := newPty(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "usb-register-if00") // like /dev/serial/by-id
	pointTo := func(target string) {
		tmp := filepath.Join(dir, "next")
		if err := os.Symlink(target, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	pointTo(first.slave)
	agent := startAgent(t, NewLine(PortConfig{Path: path}))
	reg1 := NewRegister(PortConfig{}, WithOpener(openOnce(fileConn{first.master})))
	reg1.SetAutoDone(true)
	stopReg1 := startRegister(t, reg1)
	agent.wait(ctx, "a completed HELLO", isEvent[HelloDone])
	if err := reg1.Pay(ctx, pay("before")); err != nil {
		t.Fatal(err)
	}
	agent.wait(ctx, "the first PAY", received(func(p Pay) bool { return p.Req == "before" }))

	// Unplug in the middle of a frame: half a PAY, then the cable is gone
	// (the master closes and the device disappears).
	half := mustFrame(t, Frame{Seq: 77, Type: TypePay, Payload: []byte("req=cut\x1camt=5\x1ccur=USD")})
	if _, err := first.master.Write(half[:10]); err != nil {
		t.Fatal(err)
	}
	stopReg1()
	first.master.Close()
	first.tty.Close()
	down := agent.wait(ctx, "the link going down", isEvent[LinkDown]).(LinkDown)
	if errors.Is(down.Err, ErrLinkDown) {
		t.Fatalf("unplug reported as an unacknowledged frame: %v", down.Err)
	}
	// The agent's RESULT for the first payment is due while the link is down.
	result := Result{Req: "before", Status: StateSuccess, PID: "p1", Amount: 500, Currency: "USD", Time: "2026-11-30T12:00:00Z"}
	if err := agent.line.Send(ctx, result); err != nil {
		t.Fatal(err)
	}

	// Replug: the same path now leads to another device.
	second := newPty(t)
	pointTo(second.slave)
	reg2 := NewRegister(PortConfig{}, WithOpener(openOnce(fileConn{second.master})))
	reg2.SetAutoDone(true)
	startRegister(t, reg2)
	if _, err := reg2.WaitEvent(ctx, isEvent[HelloDone]); err != nil {
		t.Fatal(err)
	}
	// The register retries the request that was cut off; the agent resends
	// its unconfirmed RESULT when a HELLO exchange completes, as it must.
	if err := reg2.Pay(ctx, Pay{Req: "cut", Amount: 5, Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	up := agent.wait(ctx, "the link back up", isEvent[LinkUp]).(LinkUp)
	if up.Port != second.slave {
		t.Fatalf("reopened %s, want %s", up.Port, second.slave)
	}
	agent.wait(ctx, "a HELLO exchange on the new port", isEvent[HelloDone])
	if err := agent.line.Send(ctx, result); err != nil {
		t.Fatal(err)
	}
	agent.wait(ctx, "the retried PAY", received(func(p Pay) bool { return p.Req == "cut" }))
	if got := waitMsg(t, ctx, reg2, func(r Result) bool { return r.Req == "before" }); got != result {
		t.Fatalf("register got %#v", got)
	}
	agent.wait(ctx, "the DONE after replug", received(func(d Done) bool { return d.Req == "before" }))
}

func TestRegisterAndAgentOverAFaultyLine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	a, b := devicetest.Pipe()
	agent := startAgent(t, NewLine(PortConfig{}, WithOpener(openOnce(a))))
	reg := NewRegister(PortConfig{}, WithOpener(openOnce(b)))
	reg.SetAutoDone(true)
	startRegister(t, reg)
	agent.wait(ctx, "a completed HELLO", isEvent[HelloDone])
	if _, err := reg.WaitEvent(ctx, isEvent[HelloDone]); err != nil {
		t.Fatal(err)
	}
	// Each of the register's next writes (a PAY) is garbled on the wire: a
	// flipped bit, then a duplicated frame. The PAY arrives once.
	b.AddFault(devicetest.FlipBit(9, 0x10))
	if err := reg.Pay(ctx, pay("faulty")); err != nil {
		t.Fatal(err)
	}
	agent.wait(ctx, "the PAY", received(func(p Pay) bool { return p.Req == "faulty" }))
	b.AddFault(devicetest.Duplicate)
	if err := reg.Query(ctx, "faulty"); err != nil {
		t.Fatal(err)
	}
	agent.wait(ctx, "the QUERY", received(func(q Query) bool { return q.Req == "faulty" }))
	if err := reg.Done(ctx, "end"); err != nil {
		t.Fatal(err)
	}
	agent.wait(ctx, "the DONE", received(func(d Done) bool { return d.Req == "end" }))
	var pays, queries int
	for len(agent.events) > 0 {
		if rc, ok := (<-agent.events).(Received); ok {
			switch rc.Msg.(type) {
			case Pay:
				pays++
			case Query:
				queries++
			}
		}
	}
	if pays != 0 || queries != 0 {
		t.Fatalf("delivered again: %d PAY, %d QUERY", pays, queries)
	}
	var naks int
	for _, f := range reg.Frames() {
		if f.Frame.Type == TypeNak {
			naks++
		}
	}
	if naks != 1 {
		t.Fatalf("register saw %d NAKs, want 1 (for the flipped bit)", naks)
	}
}

func TestRunRegisterSimPrintsFramesAndChecksTheCable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	a, b := devicetest.Pipe()
	agent := startAgent(t, NewLine(PortConfig{}, WithOpener(openOnce(a)), WithName("posagent 1.2.3")))
	out := &syncBuffer{changed: make(chan struct{})}
	simCtx, stopSim := context.WithCancel(ctx)
	simDone := make(chan error, 1)
	go func() { simDone <- RunRegisterSim(simCtx, out, PortConfig{}, WithOpener(openOnce(b))) }()

	q := agent.wait(ctx, "the sim's QUERY", received(func(q Query) bool { return q.Req == SimCheckReq }))
	_ = q
	if err := agent.line.Send(ctx, Status{Req: SimCheckReq, State: StateUnknown}); err != nil {
		t.Fatal(err)
	}
	if err := out.waitFor(ctx, "state=UNKNOWN"); err != nil {
		t.Fatal(err)
	}
	stopSim()
	if err := <-simDone; err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"link up on",
		`HELLO exchange complete with "posagent 1.2.3"`,
		"-> 10 02 01 01 48", // its HELLO, SEQ 1, in hex
		"type=Q",
		"req=register-sim-check|state=UNKNOWN",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader, which can
// wait for text to appear.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.changed)
	s.changed = make(chan struct{})
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *syncBuffer) waitFor(ctx context.Context, text string) error {
	for {
		s.mu.Lock()
		found, changed := strings.Contains(s.buf.String(), text), s.changed
		s.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return errors.New("output never showed " + text + ":\n" + s.String())
		}
	}
}

func TestRegisterWaitMessageSeesEarlierMessages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	a, b := devicetest.Pipe()
	agent := startAgent(t, NewLine(PortConfig{}, WithOpener(openOnce(a))))
	reg := NewRegister(PortConfig{}, WithOpener(openOnce(b)))
	startRegister(t, reg)
	agent.wait(ctx, "a completed HELLO", isEvent[HelloDone])
	if err := agent.line.Send(ctx, Status{Req: "early", State: StatePending}); err != nil {
		t.Fatal(err)
	}
	if err := agent.line.Send(ctx, Status{Req: "late", State: StatePending}); err != nil {
		t.Fatal(err)
	}
	waitMsg(t, ctx, reg, func(s Status) bool { return s.Req == "late" })
	// Asked after it came, the earlier message is still found.
	waitMsg(t, ctx, reg, func(s Status) bool { return s.Req == "early" })
	var in, out int
	for _, m := range reg.Messages() {
		if m.Out {
			out++
		} else {
			in++
		}
	}
	if in != 2 || out != 0 {
		t.Fatalf("recorded %d in, %d out; want 2 in, 0 out", in, out)
	}
}
