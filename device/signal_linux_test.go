package device

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// floodSignals sends SIGURG, the signal Go's scheduler itself uses to preempt
// goroutines, to every thread of this process as fast as it can, until the
// returned stop is called. It aims at each thread (tgkill), as the scheduler
// does, so the threads blocked in the port's system calls are hit too, not
// only the one the kernel would pick for a signal to the process. stop
// returns how many signals were sent.
func floodSignals(t *testing.T) (stop func() int) {
	t.Helper()
	pid := os.Getpid()
	done := make(chan struct{})
	var wg sync.WaitGroup
	var sent int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			tasks, err := os.ReadDir("/proc/self/task")
			if err != nil {
				t.Errorf("listing the threads: %v", err)
				return
			}
			for _, task := range tasks {
				tid, err := strconv.Atoi(task.Name())
				if err != nil {
					continue
				}
				// A thread that ended since the listing is ESRCH: skipped.
				if unix.Tgkill(pid, tid, unix.SIGURG) == nil {
					sent++
				}
			}
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	var once sync.Once
	stop = func() int {
		once.Do(func() { close(done); wg.Wait() })
		return sent
	}
	t.Cleanup(func() { stop() })
	return stop
}

// TestLinkOverPtySurvivesASignalFlood runs payments between the agent's line
// on a real pty (go.bug.st/serial, which writes and drains with system calls
// a signal can interrupt) and a register, while every thread is flooded with
// signals. An interrupted write or drain is retried, never taken for an
// unplug: the link stays up and every message arrives once.
func TestLinkOverPtySurvivesASignalFlood(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	p := newPty(t)
	agent := startAgent(t, NewLine(PortConfig{Path: p.slave}))
	reg := NewRegister(PortConfig{}, WithOpener(openOnce(fileConn{p.master})))
	reg.SetAutoDone(true)
	startRegister(t, reg)
	agent.wait(ctx, "a completed HELLO", isEvent[HelloDone])

	stop := floodSignals(t)
	const payments = 1500
	pays, dones := 0, 0
	for i := range payments {
		req := fmt.Sprintf("sig-%03d", i)
		if err := reg.Pay(ctx, Pay{Req: req, Amount: int64(i + 1), Currency: "USD"}); err != nil {
			t.Fatal(err)
		}
		// The agent answers the PAY with a RESULT; the register confirms it
		// with DONE. Every frame on the agent's side is written and drained
		// under the flood.
		for got := false; !got; {
			select {
			case ev := <-agent.events:
				switch ev := ev.(type) {
				case LinkDown:
					t.Fatalf("link down under the signal flood after %d payments: %v", i, ev.Err)
				case Received:
					switch m := ev.Msg.(type) {
					case Pay:
						pays++
						if err := agent.line.Send(ctx, Result{Req: m.Req, Status: StateSuccess, PID: "p" + m.Req, Amount: m.Amount, Currency: m.Currency, Time: "2026-11-30T12:00:00Z"}); err != nil {
							t.Fatal(err)
						}
					case Done:
						dones++
						got = m.Req == req
					}
				}
			case <-ctx.Done():
				t.Fatalf("payment %s did not complete under the signal flood", req)
			}
		}
	}
	sent := stop()
	if pays != payments || dones != payments {
		t.Errorf("the agent got %d PAYs and %d DONEs, want %d of each, once", pays, dones, payments)
	}
	t.Logf("%d payments under %d signals", payments, sent)
}
