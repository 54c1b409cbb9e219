package device

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Conn is a byte connection the link runs over: a serial port, a
// pseudo-terminal or an in-memory pipe. Read waits until bytes arrive, so
// that an idle line sleeps; a Read that returns (0, nil) means nothing
// arrived yet, and any Read error means the connection is gone. Drain waits
// until written bytes have left. Close unblocks a pending Read.
type Conn interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	Drain() error
	Close() error
}

// Opener opens the connection of a line, anew for each session.
type Opener func(ctx context.Context) (Conn, error)

// Reopen backoff: the first retry comes after minBackoff, each further one
// after twice the last, up to maxBackoff, forever.
const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 5 * time.Second

	// openLogEvery is how often a port that keeps failing to open with the
	// same error is logged as a warning again: a register switched off
	// overnight must not fill the log with a line every 5 s. Every attempt
	// is still logged at debug level and reported as OpenFailed.
	openLogEvery = 5 * time.Minute
)

// maxQueue bounds the messages waiting to be sent; beyond it the oldest is
// dropped (the agent resends RESULTs, the register retries requests).
const maxQueue = 256

// Line is one side of the register link: it opens the port, runs the link
// protocol over it (stop-and-wait, HELLO, PING) and reopens it after an
// unplug or a link down, until its context ends. Received messages come out
// of Events; messages to send go in through Send.
type Line struct {
	open  Opener
	clock Clock
	log   zerolog.Logger
	hello Hello
	trace func(Trace)

	events chan Event
	sends  chan outMsg
	timers chan timerFire
	posted postBox       // messages Post queued, for Run to take
	done   chan struct{} // closed when Run returns
	ran    atomic.Bool

	// Owned by the Run goroutine.
	lastSeq uint8    // SEQ of the last data frame sent; 0 before the first
	peerSeq int      // SEQ of the last data frame accepted from the peer; -1 for none
	queue   []outMsg // messages waiting for their turn, oldest first
	pending []Event  // events not yet taken from Events
	gen     uint64   // last timer generation handed out
}

// outMsg is a message waiting to be sent, already encoded.
type outMsg struct {
	typ     byte
	payload []byte
	// postOpen marks the HELLO sent right after opening the port: its ACK
	// completes a HELLO exchange.
	postOpen bool
	// acked, when not nil, is called once the peer has acknowledged the
	// message (Post).
	acked func()
}

// postBox holds the messages Post queued until the Run goroutine takes
// them; kick tells it there are some.
type postBox struct {
	mu   sync.Mutex
	msgs []outMsg
	kick chan struct{} // capacity 1
}

// Option configures a Line.
type Option func(*Line)

// WithClock sets the clock of every timer; the default is SystemClock().
func WithClock(c Clock) Option { return func(l *Line) { l.clock = c } }

// WithLogger sets the logger; every frame in and out is logged at debug level
// in hex with its decoded fields.
func WithLogger(log zerolog.Logger) Option { return func(l *Line) { l.log = log } }

// WithName sets the software name and version sent in HELLO.
func WithName(name string) Option { return func(l *Line) { l.hello.Name = name } }

// WithRole sets the role sent in HELLO: RoleAgent (the default) or
// RoleRegister.
func WithRole(role string) Option { return func(l *Line) { l.hello.Role = role } }

// WithBoot sets the boot id sent in HELLO instead of a random one.
func WithBoot(boot string) Option { return func(l *Line) { l.hello.Boot = boot } }

// WithOpener runs the line over the connections o returns instead of the
// serial port of the PortConfig: a pipe for the demo, a test double.
func WithOpener(o Opener) Option { return func(l *Line) { l.open = o } }

// WithTrace calls f for every frame sent and received, from the line's own
// goroutine; f must return quickly.
func WithTrace(f func(Trace)) Option { return func(l *Line) { l.trace = f } }

// NewLine returns a line for the port cfg describes. Nothing is opened before
// Run.
func NewLine(cfg PortConfig, opts ...Option) *Line {
	l := &Line{
		clock:   SystemClock(),
		log:     zerolog.Nop(),
		hello:   Hello{Boot: newBoot(), Ver: "1", Role: RoleAgent, Name: "posagent"},
		events:  make(chan Event, eventBuffer),
		sends:   make(chan outMsg),
		timers:  make(chan timerFire),
		posted:  postBox{kick: make(chan struct{}, 1)},
		done:    make(chan struct{}),
		peerSeq: -1,
	}
	l.open = func(ctx context.Context) (Conn, error) { return OpenPort(ctx, cfg) }
	if err := cfg.Validate(); err != nil {
		l.open = func(context.Context) (Conn, error) { return nil, err }
	}
	for _, o := range opts {
		o(l)
	}
	return l
}

// newBoot returns a random boot id of 8 hex digits.
func newBoot() string {
	var b [4]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

// Boot returns the boot id this line sends in HELLO.
func (l *Line) Boot() string { return l.hello.Boot }

// Events returns the channel of what happened on the line. It is closed when
// Run returns. The line never waits for the reader: events queue up until
// taken, the first eventBuffer of them in the channel itself, so that a
// reader coming back from a slow task finds at once the events that
// arrived meanwhile (the agent stores the PAYs among them in one commit).
func (l *Line) Events() <-chan Event { return l.events }

// eventBuffer is how many events wait in the channel of Events; more wait
// in the line.
const eventBuffer = 64

// Send queues m to be sent after the messages queued before it, and returns
// once it is queued (waiting while Run is not yet running), or with ctx's
// error. It fails at once when m cannot be
// encoded and with ErrClosed when the line is not running. Messages still
// queued when the link goes down are dropped; messages sent while the port is
// closed wait for the next session, after its HELLO.
func (l *Line) Send(ctx context.Context, m Message) error {
	p, err := EncodePayload(m)
	if err != nil {
		return err
	}
	select {
	case l.sends <- outMsg{typ: m.Type(), payload: p}:
		return nil
	case <-l.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Post queues m like Send but never waits, for a caller that must not
// block, such as an event loop: the line's own goroutine takes it at its
// next turn. When acked is not nil, it is called once the peer has
// acknowledged m's frame, on the line's goroutine, so it must return at
// once; it is not called for a message the peer never acknowledges, such as
// one dropped when the link goes down. The ACK, not the end of the write,
// is what tells that the peer has the frame: a pseudo-terminal or a USB
// adapter may still hold written bytes in the kernel. Post fails at once
// when m cannot be encoded and with ErrClosed when Run has returned.
func (l *Line) Post(m Message, acked func()) error {
	p, err := EncodePayload(m)
	if err != nil {
		return err
	}
	select {
	case <-l.done:
		return ErrClosed
	default:
	}
	l.posted.mu.Lock()
	l.posted.msgs = append(l.posted.msgs, outMsg{typ: m.Type(), payload: p, acked: acked})
	l.posted.mu.Unlock()
	select {
	case l.posted.kick <- struct{}{}:
		// The line's goroutine, woken, would otherwise wait for this
		// goroutine to block, which for an event loop is after the rest
		// of its turn: yield, so that the frame goes out first.
		runtime.Gosched()
	default: // a kick is pending already
	}
	return nil
}

// takePosted moves what Post queued into the send queue.
func (l *Line) takePosted() {
	l.posted.mu.Lock()
	msgs := l.posted.msgs
	l.posted.msgs = nil
	l.posted.mu.Unlock()
	for _, m := range msgs {
		l.enqueue(m)
	}
}

// Run opens the port and runs the link until ctx ends, reopening the port
// with backoff after an unplug or a link down, and returns nil then; it
// returns an error at once only when it was called before. When Run returns,
// the port is closed and every goroutine it started has ended.
func (l *Line) Run(ctx context.Context) error {
	if !l.ran.CompareAndSwap(false, true) {
		return errors.New("line: Run was called twice; make a new Line for each run")
	}
	defer close(l.events)
	defer close(l.done)

	backoff := minBackoff
	var s *session
	var retry timerSlot
	defer func() { retry.stop() }()
	var failures openFailures
	openNow := true
	for {
		if s == nil && openNow {
			openNow = false
			conn, err := l.open(ctx)
			if ctx.Err() != nil {
				if err == nil {
					conn.Close()
				}
				return nil
			}
			if err != nil {
				failures.log(l.log, l.clock.Now(), err, backoff)
				l.emit(OpenFailed{Err: err, Retry: backoff})
				retry = l.arm(backoff, timerBackoff)
				backoff = min(2*backoff, maxBackoff)
			} else {
				failures = openFailures{}
				s = l.startSession(conn)
			}
		}

		var events chan<- Event
		var next Event
		if len(l.pending) > 0 {
			events, next = l.events, l.pending[0]
		}
		var rx <-chan rxChunk
		var written <-chan writeReport
		var wr chan<- outFrame
		var out outFrame
		if s != nil {
			rx, written = s.rx, s.written
			if len(s.out) > 0 {
				wr, out = s.wr, s.out[0]
			}
		}

		// A frame goes to the writer before an event goes to its reader,
		// when both are ready (a data frame's ACK and its message): of two
		// goroutines woken in turn, the later runs first on this processor
		// and the earlier waits for another one, and the event's reader
		// (the agent's loop, with a commit to make) is the one the peer
		// is waiting for.
		if wr != nil && events != nil {
			select {
			case wr <- out:
				s.out = s.out[1:]
				continue
			default:
			}
		}

		select {
		case <-ctx.Done():
			if s != nil {
				s.close()
			}
			return nil
		case events <- next:
			l.pending = l.pending[1:]
		case m := <-l.sends:
			l.enqueue(m)
			if s != nil {
				s.pump()
			}
		case <-l.posted.kick:
			l.takePosted()
			if s != nil {
				s.pump()
			}
		case tf := <-l.timers:
			switch {
			case tf.kind == timerBackoff:
				if tf.gen == retry.gen {
					openNow = true
				}
			case s != nil:
				s.onTimer(tf)
			}
		case c := <-rx:
			s.onRead(c)
		case r := <-written:
			s.onWritten(r)
		case wr <- out:
			s.out = s.out[1:]
		}

		if s != nil && s.err != nil {
			s.close()
			if s.gotFrame {
				backoff = minBackoff
			}
			l.log.Warn().Err(s.err).Str("port", s.port).Int("dropped", len(l.queue)).Dur("retry", backoff).Msg("register link down")
			l.queue = nil
			l.emit(LinkDown{Port: s.port, Err: s.err})
			retry = l.arm(backoff, timerBackoff)
			backoff = min(2*backoff, maxBackoff)
			s = nil
		}
	}
}

// emit queues ev for Events.
func (l *Line) emit(ev Event) { l.pending = append(l.pending, ev) }

// enqueue adds m behind the queued messages, dropping the oldest one when the
// queue is full.
func (l *Line) enqueue(m outMsg) {
	if len(l.queue) >= maxQueue {
		l.log.Warn().Str("type", string(l.queue[0].typ)).Msg("send queue full: dropping the oldest message")
		l.queue = l.queue[1:]
	}
	l.queue = append(l.queue, m)
}

// nextSeq returns the SEQ of a new data frame: 1..255, then 1 again.
func (l *Line) nextSeq() uint8 {
	l.lastSeq++
	if l.lastSeq == 0 {
		l.lastSeq = 1
	}
	return l.lastSeq
}

// helloMsg returns this side's HELLO, encoded.
func (l *Line) helloMsg(postOpen bool) outMsg {
	p, err := EncodePayload(l.hello)
	if err != nil {
		// A name or boot with control bytes: send the HELLO without them.
		l.log.Error().Err(err).Msg("HELLO fields cannot be sent; sending a bare HELLO")
		p, _ = EncodePayload(Hello{Ver: "1", Role: l.hello.Role})
	}
	return outMsg{typ: TypeHello, payload: p, postOpen: postOpen}
}

type timerKind uint8

const (
	timerBackoff timerKind = iota
	timerT1
	timerT2
	timerIdle
)

// timerFire is what a timer posts to the Run goroutine. Only a fire whose
// generation is the slot's current one counts: a timer stopped too late
// fires stale and is ignored.
type timerFire struct {
	kind timerKind
	gen  uint64
}

// timerSlot holds the one live timer of a kind.
type timerSlot struct {
	gen    uint64
	cancel func() bool
}

func (t *timerSlot) stop() {
	if t.cancel != nil {
		t.cancel()
		t.cancel = nil
	}
	t.gen = 0
}

// arm starts a timer that posts to the Run goroutine after d.
func (l *Line) arm(d time.Duration, kind timerKind) timerSlot {
	l.gen++
	fire := timerFire{kind: kind, gen: l.gen}
	cancel := l.clock.AfterFunc(d, func() {
		select {
		case l.timers <- fire:
		case <-l.done:
		}
	})
	return timerSlot{gen: fire.gen, cancel: cancel}
}

// debugEnabled reports whether debug lines would be written.
func (l *Line) debugEnabled() bool {
	return l.log.GetLevel() <= zerolog.DebugLevel && zerolog.GlobalLevel() <= zerolog.DebugLevel
}

// frameLog logs one frame at debug level: direction, hex and decoded fields.
func (l *Line) frameLog(port string, out bool, f Frame, raw []byte, err error) {
	if !l.debugEnabled() {
		return
	}
	ev := l.log.Debug()
	dir := "in"
	if out {
		dir = "out"
	}
	ev = ev.Str("port", port).Str("dir", dir).Str("hex", fmt.Sprintf("% x", raw))
	if err != nil {
		ev.Err(err).Msg("frame dropped")
		return
	}
	ev.Uint8("seq", f.Seq).Str("type", string(f.Type)).Int("len", len(f.Payload)).Str("payload", printable(f.Payload)).Msg("frame")
}

// openFailures decides which failed opens of the port are logged as
// warnings: the first, one whose error differs from the last warned, and
// then one every openLogEvery, saying how many failed since the last warning
// (this one included). The others go to the debug level.
type openFailures struct {
	warned  time.Time // when the last warning was logged
	lastErr string    // its error
	since   int       // failed opens since then
}

func (f *openFailures) log(log zerolog.Logger, now time.Time, err error, retry time.Duration) {
	f.since++
	if f.since > 1 && err.Error() == f.lastErr && now.Sub(f.warned) < openLogEvery {
		log.Debug().Err(err).Dur("retry", retry).Msg("cannot open the register port")
		return
	}
	e := log.Warn().Err(err).Dur("retry", retry)
	if f.since > 1 {
		e = e.Int("failed_since_last_warning", f.since-1)
	}
	e.Msg("cannot open the register port")
	f.warned, f.lastErr, f.since = now, err.Error(), 1
}
