//go:build unix

package device

import (
	"context"
	"testing"
)

func TestPTYOpenerOutlivesASession(t *testing.T) {
	p, err := OpenPTY()
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { p.Close() })
	ctx := context.Background()
	agent, err := OpenPort(ctx, PortConfig{Path: p.Path}) // raw, as the agent opens it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Close() })
	open := p.Opener()
	first, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil { // a session of the register ends
		t.Fatal(err)
	}
	second, err := open(ctx)
	if err != nil {
		t.Fatalf("open again after a session: %v", err)
	}
	t.Cleanup(func() { second.Close() })
	if _, err := second.Write([]byte{0x02}); err != nil {
		t.Fatalf("the pair did not outlive the first session: %v", err)
	}
	buf := make([]byte, 1)
	if n, err := agent.Read(buf); n != 1 || buf[0] != 0x02 {
		t.Fatalf("the agent's end read %d bytes %x (%v), want the byte the register wrote", n, buf[:n], err)
	}
}
