package device

import (
	"context"
	"sync"
	"time"
)

// Register plays the cash register's side of the link over the same link
// layer as the agent: it sends PAY, CANCEL, QUERY and DONE, answers frames
// (ACKs, HELLO), optionally answers every RESULT with DONE, and records every
// message, event and frame with the time it saw it. Tests, the demo and
// technicians use it.
type Register struct {
	line *Line

	mu       sync.Mutex
	autoDone bool
	messages []MessageRecord
	events   []Event
	frames   []Trace
	changed  chan struct{} // closed and replaced at each new event
}

// MessageRecord is an application message the register sent or received.
type MessageRecord struct {
	At  time.Time
	Out bool // sent by the register
	Msg Message
}

// NewRegister returns a register for the port cfg describes; opts are those
// of NewLine (WithOpener runs it over another connection). Its HELLO has role
// register.
func NewRegister(cfg PortConfig, opts ...Option) *Register {
	r := &Register{changed: make(chan struct{})}
	var userTrace func(Trace)
	opts = append([]Option{WithName("posagent register-sim")}, opts...)
	opts = append(opts, WithRole(RoleRegister), func(l *Line) { userTrace = l.trace }, WithTrace(func(t Trace) {
		r.note(func() { r.frames = append(r.frames, t) })
		if userTrace != nil {
			userTrace(t)
		}
	}))
	r.line = NewLine(cfg, opts...)
	return r
}

// SetAutoDone makes the register answer every RESULT with DONE (on) or leave
// that to the caller (off, the default).
func (r *Register) SetAutoDone(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.autoDone = on
}

// Boot returns the boot id of the register's HELLO.
func (r *Register) Boot() string { return r.line.Boot() }

// record runs add, which records an event, under the lock and wakes the
// waiters for events.
func (r *Register) record(add func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	add()
	close(r.changed)
	r.changed = make(chan struct{})
}

// note runs add, which records a frame or a message sent, under the lock.
// Nobody waits for those, so nobody is woken: a waiter woken for nothing
// takes a processor from the line.
func (r *Register) note(add func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	add()
}

// Run runs the register's line until ctx ends, like Line.Run.
func (r *Register) Run(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- r.line.Run(ctx) }()
	for ev := range r.line.Events() {
		now := r.line.clock.Now()
		r.record(func() {
			r.events = append(r.events, ev)
			if rc, ok := ev.(Received); ok {
				r.messages = append(r.messages, MessageRecord{At: now, Msg: rc.Msg})
			}
		})
		if res, ok := ev.(Received); ok {
			if result, ok := res.Msg.(Result); ok && r.autoDoneOn() {
				// Errors here mean the line stopped; Run returns below.
				_ = r.Send(ctx, Done{Req: result.Req})
			}
		}
	}
	return <-done
}

func (r *Register) autoDoneOn() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.autoDone
}

// Send queues m and records it as sent.
func (r *Register) Send(ctx context.Context, m Message) error {
	if err := r.line.Send(ctx, m); err != nil {
		return err
	}
	now := r.line.clock.Now()
	r.note(func() { r.messages = append(r.messages, MessageRecord{At: now, Out: true, Msg: m}) })
	return nil
}

// Pay sends a PAY.
func (r *Register) Pay(ctx context.Context, p Pay) error { return r.Send(ctx, p) }

// Cancel sends a CANCEL for req.
func (r *Register) Cancel(ctx context.Context, req string) error {
	return r.Send(ctx, Cancel{Req: req})
}

// Query sends a QUERY for req.
func (r *Register) Query(ctx context.Context, req string) error {
	return r.Send(ctx, Query{Req: req})
}

// Done sends a DONE for req.
func (r *Register) Done(ctx context.Context, req string) error { return r.Send(ctx, Done{Req: req}) }

// Messages returns every message sent and received so far, in order.
func (r *Register) Messages() []MessageRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]MessageRecord(nil), r.messages...)
}

// Frames returns every frame sent and received so far, in order.
func (r *Register) Frames() []Trace {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Trace(nil), r.frames...)
}

// WaitEvent returns the first event, since the register started, for which
// match is true, waiting for it if it has not come yet, or ctx's error.
// match sees each event once, in the order the events came, so a match that
// counts can wait for the n-th event of a kind.
func (r *Register) WaitEvent(ctx context.Context, match func(Event) bool) (Event, error) {
	return r.WaitEventFrom(ctx, 0, match)
}

// Seen returns how many events the register has had so far: with
// WaitEventFrom, a caller waits for an answer to what it sends next
// without going through every event before it.
func (r *Register) Seen() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// WaitEventFrom is WaitEvent over the events after the first from, which
// is at most Seen().
func (r *Register) WaitEventFrom(ctx context.Context, from int, match func(Event) bool) (Event, error) {
	for seen := from; ; {
		r.mu.Lock()
		events, changed := r.events[seen:], r.changed
		seen = len(r.events)
		r.mu.Unlock()
		for _, ev := range events {
			if match(ev) {
				return ev, nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// eventAt returns the i-th event (from 0), waiting for it if needed.
func (r *Register) eventAt(ctx context.Context, i int) (Event, error) {
	for {
		r.mu.Lock()
		n, changed := len(r.events), r.changed
		var ev Event
		if i < n {
			ev = r.events[i]
		}
		r.mu.Unlock()
		if ev != nil {
			return ev, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// WaitMessage returns the first message received, since the register
// started, for which match is true, waiting for it if needed. Like
// WaitEvent, it shows match each received message once, in order.
func (r *Register) WaitMessage(ctx context.Context, match func(Message) bool) (Message, error) {
	return r.WaitMessageFrom(ctx, 0, match)
}

// WaitMessageFrom is WaitMessage over the events after the first from,
// which is at most Seen().
func (r *Register) WaitMessageFrom(ctx context.Context, from int, match func(Message) bool) (Message, error) {
	ev, err := r.WaitEventFrom(ctx, from, func(ev Event) bool {
		rc, ok := ev.(Received)
		return ok && match(rc.Msg)
	})
	if err != nil {
		return nil, err
	}
	return ev.(Received).Msg, nil
}
