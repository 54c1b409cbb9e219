package device

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/device/devicetest"
	"github.com/rs/zerolog"
)

// guard bounds every wait of a test; it only fires when a test is failing.
const guard = 20 * time.Second

// harness runs a Line of role agent over an in-memory port, with a fake clock,
// and plays the peer byte by byte from the other end.
type harness struct {
	t       *testing.T
	ctx     context.Context
	clock   *devicetest.Clock
	line    *Line
	port    *devicetest.Port // the line's end of the current pipe
	peer    *devicetest.Port // the test's end
	conns   chan *devicetest.Port
	frames  chan decoded // what the line sent, decoded
	events  chan Event
	syncSeq uint8
}

func newHarness(t *testing.T, opts ...Option) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	h := &harness{
		t:      t,
		ctx:    ctx,
		clock:  devicetest.NewClock(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)),
		conns:  make(chan *devicetest.Port, 1),
		events: make(chan Event, 1000),
	}
	opener := func(ctx context.Context) (Conn, error) {
		select {
		case p := <-h.conns:
			return p, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	h.line = NewLine(PortConfig{}, append([]Option{WithClock(h.clock), WithOpener(opener), WithBoot("a9e00001"), WithName("posagent test")}, opts...)...)
	h.plug()
	runDone := make(chan error, 1)
	go func() { runDone <- h.line.Run(ctx) }()
	go func() {
		for ev := range h.line.Events() {
			h.events <- ev
		}
		close(h.events)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

// plug offers the line a new pipe to open, and reads what the line writes.
func (h *harness) plug() {
	a, b := devicetest.Pipe()
	h.port, h.peer = a, b
	frames := make(chan decoded, 1000)
	h.frames = frames
	go func() {
		var d Decoder
		buf := make([]byte, 4096)
		for {
			n, err := b.Read(buf)
			// The test's side has no T1: it reads at a fixed time.
			d.Feed(buf[:n], time.Unix(0, 0), func(f Frame, err error) { frames <- decoded{f, err} })
			if err != nil {
				return
			}
		}
	}()
	h.conns <- a
}

// nextFrame returns the next frame the line sent.
func (h *harness) nextFrame() decoded {
	h.t.Helper()
	select {
	case d := <-h.frames:
		return d
	case <-h.ctx.Done():
		h.t.Fatal("the line sent no frame")
	}
	return decoded{}
}

// expect reads the next frame and checks it is a good frame of TYPE typ.
func (h *harness) expect(typ byte) Frame {
	h.t.Helper()
	d := h.nextFrame()
	if d.err != nil || d.frame.Type != typ {
		h.t.Fatalf("line sent %v, want a %c frame", d, typ)
	}
	return d.frame
}

func (h *harness) expectNak(r Reason) {
	h.t.Helper()
	f := h.expect(TypeNak)
	if want := "reason=" + string(r); string(f.Payload) != want {
		h.t.Fatalf("NAK %q, want %q", f.Payload, want)
	}
}

func (h *harness) expectAck(seq uint8) {
	h.t.Helper()
	if f := h.expect(TypeAck); f.Seq != seq {
		h.t.Fatalf("ACK of SEQ %d, want %d", f.Seq, seq)
	}
}

// noFrame checks the line has sent nothing more so far. It is only
// meaningful after an exchange that would have come after such a frame.
func (h *harness) noFrame() {
	h.t.Helper()
	select {
	case d := <-h.frames:
		h.t.Fatalf("line sent %v, want nothing", d)
	default:
	}
}

// write sends bytes from the peer.
func (h *harness) write(p []byte) {
	h.t.Helper()
	if _, err := h.peer.Write(p); err != nil {
		h.t.Fatalf("peer write: %v", err)
	}
}

func (h *harness) send(f Frame) { h.t.Helper(); h.write(mustFrame(h.t, f)) }

func (h *harness) sendMsg(seq uint8, m Message) {
	h.t.Helper()
	p, err := EncodePayload(m)
	if err != nil {
		h.t.Fatal(err)
	}
	h.send(Frame{Seq: seq, Type: m.Type(), Payload: p})
}

// sync makes sure the line has processed everything the peer wrote so far:
// it sends a PING and waits for its ACK, which comes after the line has read
// all bytes before it.
func (h *harness) sync() {
	h.t.Helper()
	h.syncSeq = 200 + (h.syncSeq+1)%50
	h.send(Frame{Seq: h.syncSeq, Type: TypePing})
	h.expectAck(h.syncSeq)
}

// nextEvent returns the next event of the line.
func (h *harness) nextEvent() Event {
	h.t.Helper()
	select {
	case ev := <-h.events:
		return ev
	case <-h.ctx.Done():
		h.t.Fatal("the line reported no event")
	}
	return nil
}

// expectEvent skips nothing: the next event must have the type of want (and
// equal it when compare is set).
func expectEvent[E Event](h *harness) E {
	h.t.Helper()
	ev := h.nextEvent()
	e, ok := ev.(E)
	if !ok {
		var want E
		h.t.Fatalf("event %#v, want a %T", ev, want)
	}
	return e
}

func (h *harness) noEvent() {
	h.t.Helper()
	select {
	case ev := <-h.events:
		h.t.Fatalf("unexpected event %#v", ev)
	default:
	}
}

// advance waits until the line has armed a timer of d, then moves the clock
// by d.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	if err := h.clock.WaitTimer(h.ctx, d); err != nil {
		h.t.Fatal(err)
	}
	h.clock.Advance(d)
}

// open runs the start of a session: LinkUp, the line's HELLO, ACKed by the
// peer, and the HelloDone it completes. It returns the HELLO's SEQ.
func (h *harness) open() uint8 {
	h.t.Helper()
	expectEvent[LinkUp](h)
	f := h.expect(TypeHello)
	m, err := DecodeMessage(TypeHello, f.Payload)
	if err != nil {
		h.t.Fatal(err)
	}
	if want := (Hello{Boot: "a9e00001", Ver: "1", Role: RoleAgent, Name: "posagent test"}); m != want {
		h.t.Fatalf("HELLO %#v, want %#v", m, want)
	}
	h.send(AckFrame(f.Seq))
	expectEvent[HelloDone](h)
	return f.Seq
}

func pay(req string) Pay { return Pay{Req: req, Amount: 500, Currency: "USD"} }

func TestLinkOpensWithHelloAndAcksThePayExampleToTheByte(t *testing.T) {
	h := newHarness(t)
	if seq := h.open(); seq != 1 {
		t.Fatalf("first HELLO has SEQ %d, want 1", seq)
	}
	h.write(hexBytes(t, protocolExamples[0].wire))
	// The line's answer to the protocol page's PAY example is its ACK example.
	want := hexBytes(t, "10 02 01 07 41 00 00 10 03 60 0c")
	got := h.expect(TypeAck)
	if raw := mustFrame(t, got); !bytes.Equal(raw, want) {
		t.Fatalf("ACK % x, want % x", raw, want)
	}
	ev := expectEvent[Received](h)
	if ev.Msg != (Pay{Req: "pos-42", Amount: 500, Currency: "USD"}) {
		t.Fatalf("received %#v", ev.Msg)
	}
	// The STATUS goes out as the line's next data frame.
	if err := h.line.Send(h.ctx, Status{Req: "pos-42", State: StateAccepted}); err != nil {
		t.Fatal(err)
	}
	f := h.expect(TypeStatus)
	if f.Seq != 2 || string(f.Payload) != "req=pos-42\x1cstate=ACCEPTED" {
		t.Fatalf("STATUS %v", f)
	}
}

func TestLinkFlippedBitIsNakedResentAndDeliveredOnce(t *testing.T) {
	h := newHarness(t)
	h.open()

	// Peer to line: a PAY with a flipped bit is NAKed; the resend is
	// delivered, once.
	good := mustFrame(t, Frame{Seq: 3, Type: TypePay, Payload: []byte("req=a\x1camt=5\x1ccur=USD")})
	bad := devicetest.FlipBit(10, 0x04)(good)
	h.write(bad)
	h.expectNak(ReasonCRC)
	h.noEvent()
	h.write(good)
	h.expectAck(3)
	if ev := expectEvent[Received](h); ev.Msg.(Pay).Req != "a" {
		t.Fatalf("received %#v", ev.Msg)
	}

	// Line to peer: the line's STATUS gets a flipped bit on the wire; the
	// peer NAKs it and the line resends the identical frame at once.
	h.port.AddFault(devicetest.FlipBit(-1, 0x80))
	if err := h.line.Send(h.ctx, Status{Req: "a", State: StateAccepted}); err != nil {
		t.Fatal(err)
	}
	if d := h.nextFrame(); reasonOf(d.err) != ReasonCRC {
		t.Fatalf("peer read %v, want a CRC failure", d)
	}
	h.send(NakFrame(ReasonCRC))
	f := h.expect(TypeStatus)
	h.send(AckFrame(f.Seq))
	h.sync()
	// Acknowledged: no resend when T2 would have passed.
	h.clock.Advance(2 * T2)
	h.noFrame()
	h.noEvent()
}

func TestLinkLostAckIsResentNotDeliveredTwice(t *testing.T) {
	h := newHarness(t)
	h.open()
	// The line's ACK of the PAY is lost on the wire; the peer resends the
	// same frame after its T2; the line ACKs it again and does not report it
	// again.
	h.port.AddFault(devicetest.Drop)
	h.sendMsg(9, pay("lost-ack"))
	expectEvent[Received](h)
	h.sendMsg(9, pay("lost-ack"))
	h.expectAck(9)
	h.sendMsg(10, Query{Req: "lost-ack"})
	h.expectAck(10)
	if ev := expectEvent[Received](h); ev.Msg != (Query{Req: "lost-ack"}) {
		t.Fatalf("after the duplicate got %#v, want the QUERY", ev.Msg)
	}

	// The line's own frame: its ACK from the peer is lost, T2 passes, the
	// line resends it with the same SEQ; the late ACK ends it.
	if err := h.line.Send(h.ctx, Status{Req: "lost-ack", State: StateAccepted}); err != nil {
		t.Fatal(err)
	}
	first := h.expect(TypeStatus)
	h.advance(T2)
	again := h.expect(TypeStatus)
	if !reflect.DeepEqual(first, again) {
		t.Fatalf("resend %v differs from %v", again, first)
	}
	h.send(AckFrame(again.Seq))
	h.sync()
	h.clock.Advance(2 * T2)
	h.noFrame()
}

func TestLinkDownAfterThreeLossesInARow(t *testing.T) {
	h := newHarness(t)
	h.open()
	for range MaxTransmissions {
		h.port.AddFault(devicetest.Drop)
	}
	if err := h.line.Send(h.ctx, Result{Req: "r", Status: StateSuccess, Amount: 5, Currency: "USD", Time: "2026-11-30T12:00:00Z"}); err != nil {
		t.Fatal(err)
	}
	for range MaxTransmissions {
		h.advance(T2)
	}
	down := expectEvent[LinkDown](h)
	if !errors.Is(down.Err, ErrLinkDown) {
		t.Fatalf("link down with %v, want ErrLinkDown", down.Err)
	}
	h.noFrame() // the three transmissions were all dropped

	// The line reopens after 250 ms, starts again with HELLO, and the SEQ
	// carries on across the reopen.
	h.plug()
	h.advance(minBackoff)
	expectEvent[LinkUp](h)
	hello := h.expect(TypeHello)
	if hello.Seq != 3 {
		t.Fatalf("HELLO after reopen has SEQ %d, want 3 (1 was the first HELLO, 2 the dropped RESULT)", hello.Seq)
	}
}

func TestLinkGapOverT1MidFrameIsNakedTimeout(t *testing.T) {
	h := newHarness(t)
	h.open()
	frame := mustFrame(t, Frame{Seq: 4, Type: TypePay, Payload: []byte("req=slow\x1camt=5\x1ccur=USD")})
	h.write(frame[:12])
	// The timer notices the gap; no byte needs to come.
	h.advance(T1 + time.Nanosecond)
	h.expectNak(ReasonTimeout)
	// The rest of that frame is noise now; a complete resend is read.
	h.write(frame[12:])
	h.write(frame)
	h.expectAck(4)
	expectEvent[Received](h)
	h.noFrame()
}

func TestLinkNoiseBetweenFramesIsDropped(t *testing.T) {
	h := newHarness(t)
	h.open()
	noise := []byte{0x06, 0x15, 0x02, 0x10, 0x06, 0x10, 0x15, 0x10, 0x10, 0x03, 0xff, 0x00}
	var stream []byte
	stream = append(stream, noise...)
	stream = append(stream, mustFrame(t, Frame{Seq: 5, Type: TypeQuery, Payload: []byte("req=n1")})...)
	stream = append(stream, noise...)
	stream = append(stream, mustFrame(t, Frame{Seq: 6, Type: TypeQuery, Payload: []byte("req=n2")})...)
	stream = append(stream, 0x10)
	h.write(stream)
	h.expectAck(5)
	h.expectAck(6)
	for _, want := range []string{"n1", "n2"} {
		if ev := expectEvent[Received](h); ev.Msg != (Query{Req: want}) {
			t.Fatalf("got %#v, want QUERY %s", ev.Msg, want)
		}
	}
	h.noFrame() // noise was not NAKed
}

func TestLinkPayloadSizes(t *testing.T) {
	padded := func(n int) []byte {
		p := []byte("req=big\x1camt=5\x1ccur=USD\x1cpad=")
		return append(p, bytes.Repeat([]byte{'x'}, n-len(p))...)
	}
	cases := []struct {
		name  string
		frame []byte
		check func(h *harness)
	}{
		{"empty payload", mustFrame(t, Frame{Seq: 11, Type: TypePing}), func(h *harness) {
			h.expectAck(11)
		}},
		{"1024 bytes accepted", mustFrame(t, Frame{Seq: 12, Type: TypePay, Payload: padded(MaxPayload)}), func(h *harness) {
			h.expectAck(12)
			if ev := expectEvent[Received](h); ev.Msg.(Pay).Req != "big" {
				t.Fatalf("got %#v", ev.Msg)
			}
		}},
		{"1025 bytes NAKed len", appendRawFrame(nil, []byte{Version, 13, TypePay, 0x04, 0x01}, padded(MaxPayload+1)), func(h *harness) {
			h.expectNak(ReasonLen)
		}},
		{"1024 bytes of DLE", mustFrame(t, Frame{Seq: 0x10, Type: 'Z', Payload: bytes.Repeat([]byte{DLE}, MaxPayload)}), func(h *harness) {
			h.expectAck(0x10) // an undefined TYPE: ACKed and ignored
		}},
		{"PAY of DLE bytes", mustFrame(t, Frame{Seq: 14, Type: TypePay, Payload: bytes.Repeat([]byte{DLE}, 40)}), func(h *harness) {
			h.expectAck(14)
			if ev := expectEvent[Invalid](h); ev.Type != TypePay || ev.Err.Rule != ruleKeyValue {
				t.Fatalf("got %#v", ev)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.open()
			h.write(tc.frame)
			tc.check(h)
			// The line is in step after each: a QUERY is read next.
			h.sendMsg(99, Query{Req: "after"})
			h.expectAck(99)
			if ev := expectEvent[Received](h); ev.Msg != (Query{Req: "after"}) {
				t.Fatalf("got %#v", ev.Msg)
			}
			h.noFrame()
		})
	}
}

func TestLinkReadSplitting(t *testing.T) {
	for _, maxRead := range []int{1, 2, 7, 0} {
		t.Run(fmt.Sprintf("reads of %d bytes", maxRead), func(t *testing.T) {
			h := newHarness(t)
			h.port.SetMaxRead(maxRead)
			h.open()
			var stream []byte
			for seq := uint8(20); seq < 25; seq++ {
				stream = append(stream, mustFrame(t, Frame{Seq: seq, Type: TypeQuery, Payload: fmt.Appendf(nil, "req=q%d", seq)})...)
			}
			h.write(stream) // several frames in one read (when reads are not limited)
			for seq := uint8(20); seq < 25; seq++ {
				h.expectAck(seq)
				if ev := expectEvent[Received](h); ev.Msg != (Query{Req: fmt.Sprintf("q%d", seq)}) {
					t.Fatalf("got %#v", ev.Msg)
				}
			}
		})
	}
}

func TestLinkAckBetweenPeerFrames(t *testing.T) {
	h := newHarness(t)
	h.open()
	if err := h.line.Send(h.ctx, Result{Req: "r1", Status: StateFail, Amount: 5, Currency: "USD", Time: "2026-11-30T12:00:00Z"}); err != nil {
		t.Fatal(err)
	}
	res := h.expect(TypeResult)
	var stream []byte
	stream = append(stream, mustFrame(t, Frame{Seq: 30, Type: TypeQuery, Payload: []byte("req=x")})...)
	stream = append(stream, mustFrame(t, AckFrame(res.Seq))...)
	stream = append(stream, mustFrame(t, Frame{Seq: 31, Type: TypeDone, Payload: []byte("req=r1")})...)
	h.write(stream)
	h.expectAck(30)
	h.expectAck(31)
	expectEvent[Received](h)
	if ev := expectEvent[Received](h); ev.Msg != (Done{Req: "r1"}) {
		t.Fatalf("got %#v", ev.Msg)
	}
	// The RESULT was acknowledged in the middle: no resend.
	h.sync()
	h.clock.Advance(2 * T2)
	h.noFrame()
}

func TestLinkIgnoresStrayAckAndNak(t *testing.T) {
	h := newHarness(t)
	h.open()
	h.send(NakFrame(ReasonCRC)) // nothing outstanding: ignored
	h.sync()
	if err := h.line.Send(h.ctx, Status{Req: "s", State: StatePending}); err != nil {
		t.Fatal(err)
	}
	st := h.expect(TypeStatus)
	h.send(AckFrame(st.Seq + 1)) // not the outstanding SEQ: ignored
	h.sync()
	h.advance(T2)
	if again := h.expect(TypeStatus); again.Seq != st.Seq {
		t.Fatalf("resent with SEQ %d, want %d", again.Seq, st.Seq)
	}
	h.send(AckFrame(st.Seq))
	// A garbled ACK is NAKed like any frame.
	h.write(devicetest.FlipBit(6, 1)(mustFrame(t, AckFrame(1))))
	h.expectNak(ReasonCRC)
}

func TestLinkNakAfterThirdTransmissionIsLinkDown(t *testing.T) {
	h := newHarness(t)
	h.open()
	if err := h.line.Send(h.ctx, Status{Req: "s", State: StatePending}); err != nil {
		t.Fatal(err)
	}
	for range MaxTransmissions {
		h.expect(TypeStatus)
		h.send(NakFrame(ReasonCRC))
	}
	if down := expectEvent[LinkDown](h); !errors.Is(down.Err, ErrLinkDown) {
		t.Fatalf("got %v", down.Err)
	}
}

func TestLinkHelloHandling(t *testing.T) {
	h := newHarness(t)
	h.open()
	peer := Hello{Boot: "0000beef", Ver: "1", Role: RoleRegister, Name: "till 7"}

	// A new boot completes an exchange and is answered with the line's HELLO.
	h.sendMsg(40, peer)
	h.expectAck(40)
	if ev := expectEvent[HelloDone](h); ev.Peer != peer {
		t.Fatalf("HelloDone %#v", ev)
	}
	ans := h.expect(TypeHello)
	h.send(AckFrame(ans.Seq)) // an answering HELLO's ACK completes nothing
	// A frame with the HELLO's SEQ is now a duplicate.
	h.sendMsg(40, Query{Req: "dup"})
	h.expectAck(40)
	// A HELLO with a boot already seen is processed (it resets the duplicate
	// state) but not answered.
	h.sendMsg(41, Query{Req: "q41"})
	h.expectAck(41)
	expectEvent[Received](h)
	h.sendMsg(41, peer)
	h.expectAck(41)
	h.sendMsg(42, Query{Req: "q42"})
	h.expectAck(42)
	if ev := expectEvent[Received](h); ev.Msg != (Query{Req: "q42"}) {
		t.Fatalf("got %#v, want q42 (no HelloDone for a boot seen)", ev)
	}
	// A HELLO is never a duplicate, even with the SEQ of the last frame.
	h.sendMsg(42, Hello{Boot: "0000cafe", Ver: "1", Role: RoleRegister})
	h.expectAck(42)
	expectEvent[HelloDone](h)
	h.expect(TypeHello)
	h.noFrame()
}

func TestLinkSeqWrapsFrom255To1(t *testing.T) {
	h := newHarness(t)
	h.open()
	var seqs []uint8
	for i := range 256 {
		if err := h.line.Send(h.ctx, Status{Req: fmt.Sprint(i), State: StatePending}); err != nil {
			t.Fatal(err)
		}
		f := h.expect(TypeStatus)
		seqs = append(seqs, f.Seq)
		h.send(AckFrame(f.Seq))
	}
	// SEQ 1 was the HELLO.
	if seqs[0] != 2 || seqs[253] != 255 || seqs[254] != 1 || seqs[255] != 2 {
		t.Fatalf("SEQs %v ... %v, want 2 ... 255 1 2", seqs[:3], seqs[250:])
	}
	for _, s := range seqs {
		if s == 0 {
			t.Fatal("SEQ 0 used for a data frame")
		}
	}
}

func TestLinkPingsAfterFiveSecondsOfSilence(t *testing.T) {
	h := newHarness(t)
	h.open()
	h.advance(IdleTimeout)
	ping := h.expect(TypePing)
	if len(ping.Payload) != 0 {
		t.Fatalf("PING payload %q", ping.Payload)
	}
	h.send(AckFrame(ping.Seq))
	h.sync()
	// A frame received restarts the silence: 4 s later a frame comes, and no
	// PING goes out 5 s after the first one.
	h.clock.Advance(4 * time.Second)
	h.sendMsg(50, Query{Req: "alive"})
	h.expectAck(50)
	expectEvent[Received](h)
	h.advance(time.Second)
	h.noFrame()
	h.advance(4 * time.Second)
	h.expect(TypePing)
}

func TestLinkPingUnansweredTakesLinkDown(t *testing.T) {
	h := newHarness(t)
	h.open()
	h.advance(IdleTimeout)
	for range MaxTransmissions {
		h.expect(TypePing)
		h.advance(T2)
	}
	expectEvent[LinkDown](h)
}

func TestLineReopensWithBackoffDoublingToFiveSeconds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	clock := devicetest.NewClock(time.Unix(0, 0))
	refused := errors.New("no such port")
	var opens []time.Time
	a, _ := devicetest.Pipe()
	line := NewLine(PortConfig{}, WithClock(clock), WithOpener(func(context.Context) (Conn, error) {
		opens = append(opens, clock.Now())
		if len(opens) == 9 {
			return a, nil
		}
		return nil, refused
	}))
	done := make(chan error, 1)
	go func() { done <- line.Run(ctx) }()
	var retries []time.Duration
	for ev := range line.Events() {
		if f, ok := ev.(OpenFailed); ok {
			if !errors.Is(f.Err, refused) {
				t.Fatalf("OpenFailed with %v", f.Err)
			}
			retries = append(retries, f.Retry)
			if err := clock.WaitTimer(ctx, f.Retry); err != nil {
				t.Fatal(err)
			}
			clock.Advance(f.Retry)
		}
		if _, ok := ev.(LinkUp); ok {
			cancel()
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second}
	if !reflect.DeepEqual(retries, want) {
		t.Fatalf("retries %v, want %v", retries, want)
	}
	for i := 1; i < len(opens); i++ {
		if got := opens[i].Sub(opens[i-1]); got != want[i-1] {
			t.Fatalf("open %d came %v after the one before, want %v", i, got, want[i-1])
		}
	}
}

func TestLineSendQueuedWhileDownGoesAfterHello(t *testing.T) {
	h := newHarness(t)
	h.open()
	h.peer.Close() // unplug
	down := expectEvent[LinkDown](h)
	if errors.Is(down.Err, ErrLinkDown) || !strings.Contains(down.Err.Error(), "unplugged") {
		t.Fatalf("unplug reported as %v", down.Err)
	}
	if err := h.line.Send(h.ctx, Result{Req: "kept", Status: StateSuccess, Amount: 5, Currency: "USD", Time: "2026-11-30T12:00:00Z"}); err != nil {
		t.Fatal(err)
	}
	h.plug()
	h.advance(minBackoff)
	h.open()
	if f := h.expect(TypeResult); !strings.HasPrefix(string(f.Payload), "req=kept") {
		t.Fatalf("after reopen sent %v", f)
	}
}

func TestLinePostCallsAckedOnceThePeerAcknowledges(t *testing.T) {
	h := newHarness(t)
	expectEvent[LinkUp](h)
	hello := h.expect(TypeHello)
	acked := make(chan struct{}, 10)
	if err := h.line.Post(Status{Req: "p1", State: StateAccepted}, func() { acked <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	// The STATUS waits behind the HELLO.
	h.send(AckFrame(hello.Seq))
	expectEvent[HelloDone](h)
	status := h.expect(TypeStatus)
	// Written and drained is not acknowledged: the peer may not have it.
	// The writer reports the drain before it writes the next frame, the
	// ACK of the sync, so a call for it would have come by then.
	h.sync()
	select {
	case <-acked:
		t.Fatal("acked was called before the peer acknowledged the frame")
	default:
	}
	// A resend after T2, then its ACK: one call.
	h.advance(T2)
	if again := h.expect(TypeStatus); again.Seq != status.Seq {
		t.Fatalf("resend with SEQ %d, want %d", again.Seq, status.Seq)
	}
	h.send(AckFrame(status.Seq))
	select {
	case <-acked:
	case <-h.ctx.Done():
		t.Fatal("acked was not called after the ACK")
	}
	h.send(AckFrame(status.Seq)) // a late ACK of the first transmission
	h.sync()
	if got := len(acked); got != 0 {
		t.Fatalf("acked called %d more times after the first ACK, want none", got)
	}
	// A message the peer never acknowledges gets no call, whether it was
	// written (p2, transmitted until the link went down) or dropped
	// unsent when the link went down (p3).
	if err := h.line.Post(Status{Req: "p2", State: StateAccepted}, func() { acked <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	h.expect(TypeStatus)
	h.advance(T2)
	h.expect(TypeStatus)
	h.advance(T2)
	h.expect(TypeStatus)
	if err := h.line.Post(Status{Req: "p3", State: StateAccepted}, func() { acked <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	h.advance(T2)
	expectEvent[LinkDown](h)
	if got := len(acked); got != 0 {
		t.Fatalf("acked called %d times for p2 and p3, never acknowledged; want none", got)
	}
}

func TestLineSendAfterRunReturnsErrClosed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	line := NewLine(PortConfig{}, WithOpener(func(ctx context.Context) (Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	done := make(chan error, 1)
	go func() { done <- line.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := line.Send(context.Background(), Ping{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Run = %v, want ErrClosed", err)
	}
	if err := line.Post(Ping{}, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Post after Run = %v, want ErrClosed", err)
	}
	if _, open := <-line.Events(); open {
		t.Fatal("Events not closed after Run returned")
	}
	if err := line.Run(context.Background()); err == nil {
		t.Fatal("second Run did not fail")
	}
}

func TestLineLogsEveryFrameInHexAtDebugLevel(t *testing.T) {
	out := &syncBuffer{changed: make(chan struct{})}
	h := newHarness(t, WithLogger(zerolog.New(out).Level(zerolog.DebugLevel)))
	h.open()
	h.sendMsg(7, Pay{Req: "pos-42", Amount: 500, Currency: "USD"})
	h.expectAck(7)
	for _, want := range []string{
		`"dir":"out","hex":"10 02 01 01 48`, // the HELLO
		`"dir":"in","hex":"10 02 01 07 50 00 1a 72 65 71`,
		`"seq":7,"type":"P","len":26,"payload":"req=pos-42|amt=500|cur=USD"`,
		`"dir":"out","hex":"10 02 01 07 41 00 00 10 03 60 0c"`,
	} {
		if err := out.waitFor(h.ctx, want); err != nil {
			t.Fatal(err)
		}
	}
}
