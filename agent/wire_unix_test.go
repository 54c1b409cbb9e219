//go:build unix

package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/device/devicetest"
	"github.com/posagent/posagent/internal/postest"
)

// wireClock is the register's end of a pty with a clock on it: it notes
// when the write of each frame the register sends began, and when the read
// that completed each frame it receives returned. A benchmark then times
// an exchange on the wire, from the PAY's first byte to the STATUS's last,
// leaving out the register simulator's own goroutines on either side, which
// a cash register does not have.
type wireClock struct {
	device.Conn

	mu       sync.Mutex
	out, in  device.Decoder
	sent     map[string]time.Time // PAY frames by request id
	received map[string]time.Time // STATUS frames by request id
	split    bool                 // a frame was written in more than one write
}

func newWireClock(c device.Conn) *wireClock {
	return &wireClock{Conn: c, sent: map[string]time.Time{}, received: map[string]time.Time{}}
}

// Write notes the time before the write of each PAY frame in p, and notes
// it before writing: the answer may come back, and the benchmark look for
// the PAY, before this goroutine runs again after the write. The
// register's line writes one whole frame per Write; a write that completes
// no frame is noted as a split, which makes the figures unusable.
func (c *wireClock) Write(p []byte) (int, error) {
	c.note(p, time.Now())
	return c.Conn.Write(p)
}

func (c *wireClock) note(p []byte, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	frames := 0
	c.out.Feed(p, at, func(f device.Frame, err error) {
		frames++
		if err == nil && f.Type == device.TypePay {
			if m, err := device.DecodeMessage(f.Type, f.Payload); err == nil {
				if req := m.(device.Pay).Req; c.sent[req].IsZero() {
					c.sent[req] = at // a PAY sent again is timed from its first write
				}
			}
		}
	})
	if len(p) > 0 && frames == 0 {
		c.split = true
	}
}

// Read notes the time each STATUS frame in the stream was complete.
func (c *wireClock) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		at := time.Now()
		c.mu.Lock()
		defer c.mu.Unlock()
		c.in.Feed(p[:n], at, func(f device.Frame, err error) {
			if err == nil && f.Type == device.TypeStatus {
				if m, err := device.DecodeMessage(f.Type, f.Payload); err == nil {
					if req := m.(device.Status).Req; c.received[req].IsZero() {
						c.received[req] = at
					}
				}
			}
		})
	}
	return n, err
}

// exchange returns the time from the start of the write of the PAY for req
// to the read that completed the STATUS for req, or an error that says
// which was not seen whole.
func (c *wireClock) exchange(req string) (time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sent, ok1 := c.sent[req]
	got, ok2 := c.received[req]
	switch {
	case c.split:
		return 0, errors.New("the register wrote a frame in parts")
	case !ok1:
		return 0, fmt.Errorf("no PAY for %s was written (%d PAYs seen)", req, len(c.sent))
	case !ok2:
		return 0, fmt.Errorf("no STATUS for %s was read (%d STATUS frames seen)", req, len(c.received))
	}
	return got.Sub(sent), nil
}

// ptyEcho is a pty whose terminal end, opened as the agent opens its
// port, answers each PAY-sized frame written at the master end with a
// STATUS-sized one at once: the pty's share of a PAY -> ACCEPTED.
type ptyEcho struct {
	master      *os.File
	pay, status []byte
	buf         []byte
}

func newPtyEcho(b *testing.B) *ptyEcho {
	p := postest.PTY(b)
	conn, err := device.OpenPort(context.Background(), device.PortConfig{Path: p.Path})
	if err != nil {
		b.Fatal(err)
	}
	e := &ptyEcho{master: p.Master, buf: make([]byte, 4096)}
	e.pay = frameOf(b, 1, device.Pay{Req: "bench-0000", Amount: 100, Currency: "USD"})
	e.status = frameOf(b, 1, device.Status{Req: "bench-0000", State: device.StateAccepted})
	done := make(chan struct{})
	go func() {
		defer close(done)
		devicetest.Echo(conn, len(e.pay), e.status)
	}()
	b.Cleanup(func() { conn.Close(); <-done })
	return e
}

// roundTrip writes a PAY and returns when the answer has been read whole.
func (e *ptyEcho) roundTrip(b *testing.B) time.Duration {
	start := time.Now()
	if _, err := e.master.Write(e.pay); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(e.master, e.buf[:len(e.status)]); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// frameOf returns the wire bytes of m in a data frame numbered seq.
func frameOf(b *testing.B, seq uint8, m device.Message) []byte {
	payload, err := device.EncodePayload(m)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := device.AppendFrame(nil, device.Frame{Seq: seq, Type: m.Type(), Payload: payload})
	if err != nil {
		b.Fatal(err)
	}
	return raw
}
