package devicetest

import (
	"errors"
	"io"
	"sync"
)

// ErrClosed is returned by a Port used after its own Close.
var ErrClosed = errors.New("in-memory port is closed")

// Fault rewrites the bytes of one Write before the other end sees them: it
// may return them changed, fewer, more, or none.
type Fault func(p []byte) []byte

// Port is one end of an in-memory serial line. What is written to one end is
// read from the other. Faults set on an end apply to what it writes; reads
// can be split into small pieces. Closing an end is an unplug for the other:
// it reads what is left, then io.EOF, and its writes fail.
type Port struct {
	mu      sync.Mutex
	buf     []byte // bytes written by the peer, not read yet
	wake    chan struct{}
	closed  bool
	maxRead int
	faults  []Fault
	held    []byte
	peer    *Port
}

// Pipe returns the two connected ends of a new in-memory line.
func Pipe() (*Port, *Port) {
	a := &Port{wake: make(chan struct{})}
	b := &Port{wake: make(chan struct{})}
	a.peer, b.peer = b, a
	return a, b
}

// SetMaxRead makes each Read on p return at most n bytes; 0 removes the limit.
func (p *Port) SetMaxRead(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.maxRead = n
}

// AddFault queues f to rewrite one future Write on p; faults apply one per
// Write, in the order they were added.
func (p *Port) AddFault(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, f)
}

// Drop is a Fault that loses a whole write.
func Drop(p []byte) []byte { return nil }

// Duplicate is a Fault that delivers a write twice.
func Duplicate(p []byte) []byte { return append(append([]byte{}, p...), p...) }

// FlipBit returns a Fault that inverts the bits of mask in byte i of a write
// (counting from the end when i is negative).
func FlipBit(i int, mask byte) Fault {
	return func(p []byte) []byte {
		c := append([]byte{}, p...)
		if i < 0 {
			i += len(c)
		}
		if i >= 0 && i < len(c) {
			c[i] ^= mask
		}
		return c
	}
}

// Hold returns a Fault that delivers the first n bytes of a write and keeps
// the rest on p until Release, like a line that stalls mid-frame.
func (p *Port) Hold(n int) Fault {
	return func(b []byte) []byte {
		if n > len(b) {
			n = len(b)
		}
		p.held = append(p.held, b[n:]...) // p.mu is held by Write
		return b[:n]
	}
}

// Release delivers what Hold kept back.
func (p *Port) Release() {
	p.mu.Lock()
	held := p.held
	p.held = nil
	p.mu.Unlock()
	p.peer.deliver(held)
}

// Inject delivers b to the other end as if p had written it, bypassing faults.
func (p *Port) Inject(b []byte) { p.peer.deliver(b) }

func (p *Port) deliver(b []byte) {
	if len(b) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	p.signal()
}

// signal wakes a blocked Read; p.mu is held.
func (p *Port) signal() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// Read blocks until the peer has written something, p is closed (ErrClosed)
// or the peer is closed and everything it wrote was read (io.EOF).
func (p *Port) Read(b []byte) (int, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return 0, ErrClosed
		}
		if len(p.buf) > 0 {
			n := len(b)
			if p.maxRead > 0 && n > p.maxRead {
				n = p.maxRead
			}
			n = copy(b[:n], p.buf)
			p.buf = p.buf[n:]
			p.mu.Unlock()
			return n, nil
		}
		wake := p.wake
		p.mu.Unlock()
		// The peer's lock is taken only while p's is not held, so two ends
		// reading at once cannot deadlock.
		if p.peer.isClosed() {
			p.mu.Lock()
			empty := len(p.buf) == 0
			p.mu.Unlock()
			if empty {
				return 0, io.EOF
			}
			continue
		}
		<-wake
	}
}

// Write delivers b to the peer through the next queued fault, if any.
func (p *Port) Write(b []byte) (int, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return 0, ErrClosed
	}
	out := append([]byte{}, b...)
	if len(p.faults) > 0 {
		f := p.faults[0]
		p.faults = p.faults[1:]
		out = f(out)
	}
	p.mu.Unlock()
	if p.peer.isClosed() {
		return 0, io.ErrClosedPipe
	}
	p.peer.deliver(out)
	return len(b), nil
}

// Drain returns at once: written bytes are delivered before Write returns.
func (p *Port) Drain() error { return nil }

// Close closes p; its blocked Read returns ErrClosed and the peer sees an
// unplug.
func (p *Port) Close() error {
	p.mu.Lock()
	p.closed = true
	p.signal()
	p.mu.Unlock()
	p.peer.mu.Lock()
	p.peer.signal()
	p.peer.mu.Unlock()
	return nil
}

func (p *Port) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}
