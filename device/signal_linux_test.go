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

	// Enough payments that without the retry an interrupted drain ends the
	// link in practically every run (after a few dozen payments, typically).
	// The flood slows everything down, the more so on a busy machine: the
	// guard bounds each payment, not the whole run.
	stop := floodSignals(t)
	const payments = 2000
	var pays, dones int
	for i := range payments {
		if down := payUnderFlood(t, agent, reg, fmt.Sprintf("sig-%04d", i), &pays, &dones); down != nil {
			t.Fatalf("link down under the signal flood after %d payments: %v", i, down.Err)
		}
	}
	sent := stop()
	if pays != payments || dones != payments {
		t.Errorf("the agent got %d PAYs and %d DONEs, want %d of each, once", pays, dones, payments)
	}
	t.Logf("%d payments under %d signals", payments, sent)
}

// payUnderFlood runs one payment: the register's PAY, the agent's RESULT,
// the register's DONE; every frame on the agent's side is written and
// drained under the flood. It counts the PAYs and DONEs the agent receives,
// and returns the LinkDown if the link went down on the way.
func payUnderFlood(t *testing.T, agent *agentSide, reg *Register, req string, pays, dones *int) *LinkDown {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := reg.Pay(ctx, Pay{Req: req, Amount: 100, Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case ev := <-agent.events:
			switch ev := ev.(type) {
			case LinkDown:
				return &ev
			case Received:
				switch m := ev.Msg.(type) {
				case Pay:
					*pays++
					res := Result{Req: m.Req, Status: StateSuccess, PID: "p-" + m.Req, Amount: m.Amount, Currency: m.Currency, Time: "2026-11-30T12:00:00Z"}
					if err := agent.line.Send(ctx, res); err != nil {
						t.Fatal(err)
					}
				case Done:
					*dones++
					if m.Req == req {
						return nil
					}
				}
			}
		case <-ctx.Done():
			t.Fatalf("payment %s did not complete under the signal flood", req)
		}
	}
}
