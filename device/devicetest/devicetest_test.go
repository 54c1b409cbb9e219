package devicetest

import (
	"context"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"
)

func TestClockRunsTimersInDeadlineOrderAtTheirTime(t *testing.T) {
	start := time.Unix(1000, 0)
	c := NewClock(start)
	var got []time.Duration
	record := func() { got = append(got, c.Now().Sub(start)) }
	c.AfterFunc(3*time.Second, record)
	c.AfterFunc(time.Second, record)
	stop := c.AfterFunc(2*time.Second, record)
	c.AfterFunc(10*time.Second, record)
	if !stop() {
		t.Fatal("stop of a pending timer reported false")
	}
	if stop() {
		t.Fatal("second stop reported true")
	}
	c.Advance(5 * time.Second)
	if want := []time.Duration{time.Second, 3 * time.Second}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ran at %v, want %v", got, want)
	}
	if c.Now().Sub(start) != 5*time.Second {
		t.Fatalf("clock at %v after Advance", c.Now().Sub(start))
	}
	if p := c.Pending(); !reflect.DeepEqual(p, []time.Duration{5 * time.Second}) {
		t.Fatalf("pending %v", p)
	}
}

func TestClockWaitTimer(t *testing.T) {
	c := NewClock(time.Unix(0, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	armed := make(chan struct{})
	go func() {
		<-armed
		c.AfterFunc(time.Second, func() {})
	}()
	close(armed)
	if err := c.WaitTimer(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithCancel(ctx)
	cancelShort()
	if err := c.WaitTimer(short, 2*time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitTimer with no such timer = %v", err)
	}
}

func TestPortFaultsAndUnplug(t *testing.T) {
	a, b := Pipe()
	a.AddFault(Drop)
	a.AddFault(FlipBit(0, 0x01))
	a.AddFault(Duplicate)
	a.AddFault(a.Hold(1))
	for _, s := range []string{"lost", "b", "d", "held"} {
		if _, err := a.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	a.Release()
	a.Write([]byte("!"))
	a.Close()
	b.SetMaxRead(2)
	var got []byte
	buf := make([]byte, 10)
	for {
		n, err := b.Read(buf)
		if n > 2 {
			t.Fatalf("read %d bytes with a limit of 2", n)
		}
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if string(got) != "cddheld!" {
		t.Fatalf("read %q, want %q", got, "cddheld!")
	}
	if _, err := b.Write([]byte("x")); err == nil {
		t.Fatal("write to an unplugged peer succeeded")
	}
	if _, err := a.Read(buf); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after own close = %v", err)
	}
}

func TestEchoAnswersEachFrameReadAndStopsWhenClosed(t *testing.T) {
	a, b := Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		Echo(b, 4, []byte("ok"))
	}()
	// Ten bytes in odd pieces are two whole frames of four and half of a
	// third: two answers.
	for _, s := range []string{"abc", "defgh", "ij"} {
		if _, err := a.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(a, buf); err != nil || string(buf) != "okok" {
		t.Fatalf("read %q, %v; want two answers, \"okok\"", buf, err)
	}
	if _, err := a.Write([]byte("kl")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(a, buf[:2]); err != nil || string(buf[:2]) != "ok" {
		t.Fatalf("read %q, %v after the third frame was whole; want \"ok\"", buf[:2], err)
	}
	b.Close()
	<-done
}
