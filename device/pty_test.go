package device

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ptyPair is a pseudo-terminal: the slave stands for the register's serial
// port, the master for the cable's other end.
type ptyPair struct {
	master *os.File
	tty    *os.File // the test's own descriptor of the slave
	slave  string   // path of the slave device
}

// newPty opens a pseudo-terminal, or skips the test where there are none.
// The test keeps a slave descriptor open so the master stays usable while the
// code under test closes and reopens the slave.
func newPty(t testing.TB) ptyPair {
	t.Helper()
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	master = pollable(t, master)
	t.Cleanup(func() {
		master.Close()
		tty.Close()
	})
	// A new pty starts in cooked mode with echo, which a serial line does not
	// have: set it raw before either side writes, as opening it does.
	raw, err := OpenPort(context.Background(), PortConfig{Path: tty.Name()})
	if err != nil {
		t.Fatalf("setting the pty raw: %v", err)
	}
	raw.Close()
	return ptyPair{master: master, tty: tty, slave: tty.Name()}
}

// fileConn runs the link over the master side of a pty.
type fileConn struct{ *os.File }

func (fileConn) Drain() error { return nil }

// readFramesFrom decodes what arrives on r into a channel until r fails.
func readFramesFrom(r interface{ Read([]byte) (int, error) }) <-chan decoded {
	ch := make(chan decoded, 100)
	go func() {
		defer close(ch)
		var d Decoder
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			d.Feed(buf[:n], time.Unix(0, 0), func(f Frame, err error) { ch <- decoded{f, err} })
			if err != nil {
				return
			}
		}
	}()
	return ch
}

func TestOpenPortOverPtyCarriesBytesExactly(t *testing.T) {
	p := newPty(t)
	conn, err := OpenPort(t.Context(), PortConfig{Path: p.slave, Baud: 9600, Parity: "even", StopBits: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Every byte value, both ways: the line is raw.
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	if _, err := conn.Write(all); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 0, 256)
	buf := make([]byte, 256)
	for len(got) < 256 {
		n, err := p.master.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, all) {
		t.Fatalf("slave to master changed the bytes:\n% x", got)
	}
	if _, err := p.master.Write(all); err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for len(got) < 256 {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, all) {
		t.Fatalf("master to slave changed the bytes:\n% x", got)
	}
}

func TestOpenPortLocksThePortEvenForRoot(t *testing.T) {
	p := newPty(t)
	link := filepath.Join(t.TempDir(), "register")
	if err := os.Symlink(p.slave, link); err != nil {
		t.Fatal(err)
	}
	first, err := OpenPort(t.Context(), PortConfig{Path: link})
	if err != nil {
		t.Fatal(err)
	}
	if name := first.(*serialConn).Name(); name != p.slave {
		t.Fatalf("opened %s, want the symlink's target %s", name, p.slave)
	}
	// By the other name of the same device, and as whatever user runs the
	// test (root in CI), a second open is refused.
	if _, err := OpenPort(t.Context(), PortConfig{Path: p.slave}); !errors.Is(err, ErrPortInUse) {
		t.Fatalf("second open = %v, want ErrPortInUse", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := OpenPort(t.Context(), PortConfig{Path: link})
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	again.Close()
}

func TestOpenPortMissingPathSaysWhatToDo(t *testing.T) {
	_, err := OpenPort(t.Context(), PortConfig{Path: filepath.Join(t.TempDir(), "ttyUSB9")})
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("got %v", err)
	}
}

func TestSerialConnTellsItsOwnCloseFromAnUnplug(t *testing.T) {
	cases := []struct {
		name   string
		cause  func(p ptyPair, c Conn)
		closed bool
	}{
		{"own close", func(_ ptyPair, c Conn) { c.Close() }, true},
		{"unplug", func(p ptyPair, _ Conn) { p.master.Close() }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPty(t)
			conn, err := OpenPort(t.Context(), PortConfig{Path: p.slave})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			started := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				buf := make([]byte, 16)
				close(started)
				for {
					n, err := conn.Read(buf)
					if err != nil {
						done <- err
						return
					}
					if n > 0 {
						done <- errors.New("read bytes nobody wrote")
						return
					}
				}
			}()
			<-started
			tc.cause(p, conn)
			select {
			case err := <-done:
				if got := errors.Is(err, errClosedByUs); got != tc.closed {
					t.Fatalf("read ended with %v; closed by us = %v, want %v", err, got, tc.closed)
				}
			case <-time.After(guard):
				t.Fatal("the blocked read did not end")
			}
		})
	}
}

// deviceGoroutines returns the stacks of goroutines running code of this
// package's line or of go.bug.st/serial, other than tests.
func deviceGoroutines() []string {
	var buf bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&buf, 2)
	var left []string
	for _, g := range strings.Split(buf.String(), "\n\n") {
		if strings.Contains(g, "posagent/device.(*session)") || strings.Contains(g, "posagent/device.(*Line)") ||
			strings.Contains(g, "go.bug.st/serial") {
			left = append(left, g)
		}
	}
	return left
}

// deviceGoroutinesGone yields until no goroutine of deviceGoroutines is
// left, and returns those still there after guard.
func deviceGoroutinesGone() []string {
	deadline := time.Now().Add(guard)
	for {
		left := deviceGoroutines()
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		runtime.Gosched()
	}
}

func TestLineCloseDuringBlockedReadLeavesNoGoroutine(t *testing.T) {
	p := newPty(t)
	if left := deviceGoroutines(); len(left) > 0 {
		t.Fatalf("goroutines before the test:\n%s", strings.Join(left, "\n\n"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	line := NewLine(PortConfig{Path: p.slave})
	done := make(chan error, 1)
	go func() { done <- line.Run(ctx) }()
	// The HELLO arriving at the master shows the line runs; nothing answers,
	// so its reader is blocked in Read.
	frames := readFramesFrom(p.master)
	select {
	case d := <-frames:
		if d.err != nil || d.frame.Type != TypeHello {
			t.Fatalf("first frame %v, want HELLO", d)
		}
	case <-time.After(guard):
		t.Fatal("no HELLO")
	}
	if len(deviceGoroutines()) == 0 {
		t.Fatal("the goroutine check sees no goroutine of the running line")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(guard):
		t.Fatal("Run did not return after cancel")
	}
	// Run waits for its goroutines to finish their work, but a goroutine
	// whose deferred Done has run may still be on its way out for a moment;
	// Go has no event for a goroutine's exit, so the check waits for them to
	// be gone. One that is still blocked (in Read, say) stays and fails it.
	if left := deviceGoroutinesGone(); len(left) > 0 {
		t.Fatalf("goroutines left behind:\n%s", strings.Join(left, "\n\n"))
	}
	// The port is free again.
	c, err := OpenPort(t.Context(), PortConfig{Path: p.slave})
	if err != nil {
		t.Fatalf("port not released: %v", err)
	}
	c.Close()
}
