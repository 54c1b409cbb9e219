package device

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"go.bug.st/serial"
)

func TestOpenErrorSaysWhatToDo(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		advice string
	}{
		{"permission", &os.PathError{Op: "open", Path: "/dev/ttyUSB0", Err: os.ErrPermission}, "dialout group"},
		{"gone", &os.PathError{Op: "open", Path: "/dev/ttyUSB0", Err: os.ErrNotExist}, "plug in the register's cable"},
		{"other", errors.New("input/output error"), "check the cable and the adapter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := openError("/dev/ttyUSB0", tt.err)
			if !errors.Is(err, tt.err) {
				t.Errorf("openError does not wrap %v", tt.err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "cannot open the register port /dev/ttyUSB0: ") || !strings.Contains(msg, tt.advice) {
				t.Errorf("openError = %q, want the port named and the advice %q", msg, tt.advice)
			}
		})
	}
}

// scriptedPort is a serial port whose Write and Drain results follow a
// script, for the answers a real port gives only under load: a short write,
// an interrupted system call. What it accepts is kept in wrote.
type scriptedPort struct {
	serial.Port // any other method is not used and panics
	writes      []scriptedWrite
	drains      []error
	wrote       []byte
}

// scriptedWrite is one answer of Write: it takes at most n bytes and
// returns err.
type scriptedWrite struct {
	n   int
	err error
}

func (p *scriptedPort) Write(b []byte) (int, error) {
	if len(p.writes) == 0 {
		p.wrote = append(p.wrote, b...)
		return len(b), nil
	}
	w := p.writes[0]
	p.writes = p.writes[1:]
	n := min(w.n, len(b))
	p.wrote = append(p.wrote, b[:n]...)
	return n, w.err
}

func (p *scriptedPort) Drain() error {
	if len(p.drains) == 0 {
		return nil
	}
	err := p.drains[0]
	p.drains = p.drains[1:]
	return err
}

func TestSerialConnRetriesInterruptedCalls(t *testing.T) {
	frame := []byte("\x10\x02frame bytes\x10\x03ab")
	eio := syscall.EIO
	tests := []struct {
		name      string
		writes    []scriptedWrite
		drains    []error
		wantN     int
		wantErr   error
		wantDrain error
	}{
		{name: "interrupted before any byte", writes: []scriptedWrite{{0, syscall.EINTR}, {0, syscall.EINTR}}, wantN: len(frame)},
		{name: "short write goes on with the rest", writes: []scriptedWrite{{3, nil}, {0, syscall.EINTR}, {4, nil}}, wantN: len(frame)},
		{name: "interrupted drain waits again", drains: []error{syscall.EINTR, syscall.EINTR}, wantN: len(frame)},
		{name: "a real write error ends it", writes: []scriptedWrite{{5, nil}, {0, eio}}, wantN: 5, wantErr: eio},
		{name: "a real drain error ends it", drains: []error{syscall.EINTR, eio}, wantN: len(frame), wantDrain: eio},
		{name: "a port that takes nothing", writes: []scriptedWrite{{0, nil}}, wantN: 0, wantErr: errNoProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := &scriptedPort{writes: tt.writes, drains: tt.drains}
			c := &serialConn{port: port, name: "/dev/ttyS9"}
			n, err := c.Write(frame)
			if n != tt.wantN || !errors.Is(err, tt.wantErr) {
				t.Fatalf("Write = %d, %v; want %d, %v", n, err, tt.wantN, tt.wantErr)
			}
			// Every byte reaches the line once, in order: none is sent again.
			if !bytes.Equal(port.wrote, frame[:n]) {
				t.Fatalf("the port got %q, want %q", port.wrote, frame[:n])
			}
			if err != nil {
				return
			}
			if err := c.Drain(); !errors.Is(err, tt.wantDrain) {
				t.Fatalf("Drain = %v, want %v", err, tt.wantDrain)
			}
		})
	}
}
