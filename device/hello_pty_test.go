package device

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/posagent/posagent/device/devicetest"
)

// TestHelloSentBeforeThePeerOpenedIsResentAsTheAnswer runs a line whose
// first HELLO went nowhere, because the other end of the cable was not open
// yet, as happens to whichever side starts first. When the other side opens
// and sends its HELLO, the lost HELLO is sent again at once as the answer,
// so the exchange completes, and a PAY and its STATUS go through, without
// waiting for T2: neither clock is ever moved, so no timer fires. Each side
// sends its HELLO exactly twice.
func TestHelloSentBeforeThePeerOpenedIsResentAsTheAnswer(t *testing.T) {
	for _, agentFirst := range []bool{false, true} {
		name := "register first"
		if agentFirst {
			name = "agent first"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			p := newPty(t)
			start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
			agentClock, regClock := devicetest.NewClock(start), devicetest.NewClock(start)
			var mu sync.Mutex
			agentHellos := 0
			countHellos := WithTrace(func(tr Trace) {
				if tr.Out && tr.Frame.Type == TypeHello {
					mu.Lock()
					agentHellos++
					mu.Unlock()
				}
			})
			agentLine := NewLine(PortConfig{Path: p.slave}, WithClock(agentClock), countHellos)
			reg := NewRegister(PortConfig{}, WithOpener(openOnce(fileConn{p.master})), WithClock(regClock))

			var agent *agentSide
			if agentFirst {
				// The agent's HELLO reaches the master, where no register
				// reads yet: the test takes it off the line.
				agent = startAgent(t, agentLine)
				if err := agentClock.WaitTimer(ctx, T2); err != nil {
					t.Fatal(err)
				}
				frames := readFramesFrom(p.master)
				if d := <-frames; d.err != nil || d.frame.Type != TypeHello {
					t.Fatalf("agent sent %v, want its HELLO", d)
				}
				p.master.SetReadDeadline(time.Now()) // ends the reader
				for range frames {
				}
				p.master.SetReadDeadline(time.Time{})
				startRegister(t, reg)
			} else {
				// The register's HELLO waits in the terminal's input,
				// where a serial port nobody has open would have dropped
				// it: drop it.
				startRegister(t, reg)
				if err := regClock.WaitTimer(ctx, T2); err != nil {
					t.Fatal(err)
				}
				port, err := serial.Open(p.slave, &serial.Mode{BaudRate: 115200})
				if err != nil {
					t.Fatal(err)
				}
				if err := port.ResetInputBuffer(); err != nil {
					t.Fatal(err)
				}
				port.Close()
				agent = startAgent(t, agentLine)
			}

			if err := reg.Pay(ctx, Pay{Req: "first", Amount: 500, Currency: "USD"}); err != nil {
				t.Fatal(err)
			}
			agent.wait(ctx, "the PAY", received(func(p Pay) bool { return p.Req == "first" }))
			if err := agentLine.Send(ctx, Status{Req: "first", State: StateAccepted}); err != nil {
				t.Fatal(err)
			}
			waitMsg(t, ctx, reg, func(s Status) bool { return s.Req == "first" })

			// Every HELLO went ahead of the STATUS.
			regHellos := 0
			for _, f := range reg.Frames() {
				if f.Err != nil {
					t.Errorf("bad frame at the register: %v", f.Err)
				}
				if f.Out && f.Frame.Type == TypeHello {
					regHellos++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if agentHellos != 2 || regHellos != 2 {
				t.Fatalf("the agent sent %d HELLOs and the register %d, want 2 each: the lost one and the answer", agentHellos, regHellos)
			}
		})
	}
}
