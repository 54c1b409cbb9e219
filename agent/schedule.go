package agent

import (
	"time"

	"github.com/posagent/posagent/queue"
)

// minGap is the least time between the end of one call for a payment and
// the start of the next, whatever the decisions between them.
const minGap = 500 * time.Millisecond

// gap is the pause before a call that follows another at once (a cancel
// after the look at the deadline, a cancel after a mismatch): never more
// than the polling interval, so fast test settings stay fast.
func (a *Agent) gap() time.Duration { return gapFor(a.opts.Interval) }

// gapFor is the gap at polling interval interval.
func gapFor(interval time.Duration) time.Duration { return min(minGap, interval) }

// schedule plans payment req's next action at next, a wall-clock instant
// written with the payment at wall-clock now. The loop keeps the wait, not
// the instant: it is due when the monotonic clock has moved on by
// next-now, whatever the wall clock does meanwhile (docs/design.md, rule
// 9). Deadlines and the cancel window, which are wall-clock instants, are
// read by decide at the payment's next action, so a wall clock stepped
// forward brings them on within one pace.
func (a *Agent) schedule(req string, next, now time.Time) {
	a.table.plan(req, a.mono()+max(next.Sub(now), 0))
}

// firstCallWait bounds how long a new payment's first Alipay call waits for
// the register to acknowledge its STATUS ACCEPTED: a STATUS the link drops
// (it is down) is never acknowledged.
const firstCallWait = time.Second

// holdFirstCall keeps the first call for the new payment req from starting
// before the register has acknowledged its STATUS ACCEPTED
// (onStatusAcked), or firstCallWait has passed. The call signs a request
// and commits its answer, work the STATUS must not wait behind: the
// register is waiting for it, and nothing is lost by asking Alipay a
// moment later. The ACK, not the end of the write, is the signal: written
// bytes may still wait in the kernel (a pseudo-terminal, a USB adapter)
// for a processor the signing would take.
func (a *Agent) holdFirstCall(req string) {
	a.table.hold(req, a.mono()+firstCallWait)
}

// onStatusAcked returns what the link calls once the register has
// acknowledged the STATUS answering a PAY for req, or nil when req's first
// call is not held. It runs on the link's goroutine: it only tells the
// loop (statusAcked), and drops the news when the loop is that far behind,
// in which case the call waits out firstCallWait.
func (a *Agent) onStatusAcked(req string) func() {
	if !a.table.isHeld(req) {
		return nil
	}
	return func() {
		select {
		case a.statusAcks <- req:
		default:
		}
	}
}

// statusAcked lets payment req's first call start: the register has its
// STATUS.
func (a *Agent) statusAcked(req string) { a.table.release(req) }

// forget drops what the loop keeps about payment req once it is final.
func (a *Agent) forget(req string) {
	a.table.forget(req)
	delete(a.unsaved, req)
	delete(a.storeFails, req)
	delete(a.failures, req)
	delete(a.absentAt, req)
}

// plans schedules every payment of a store just opened, from the NextAt
// stored with it. A NextAt further ahead than the payment's pace (the wall
// clock was stepped back while the agent was stopped) is cut to that pace.
// A cancel that follows refused ones waits at least the pause its refusals
// ask for, even when the wall clock says that pause is over: the clock may
// have been stepped forward while the agent was stopped, and no clock
// survives a restart to tell.
func (a *Agent) plans(ps []queue.Payment, now time.Time) {
	mono := a.mono()
	for i := range ps {
		p := &ps[i]
		act := decide(p, now)
		pace, least := a.opts.Interval, time.Duration(0)
		switch refusals := p.Track.Refusals + p.Track.Throttled; {
		case act == actLate:
			pace = a.latePace()
		case act == actCancel && refusals > 0:
			pace = maxBackoff
			least = backoff(a.opts.Interval, maxBackoff, refusals+1, a.rand)
		case refusals > 0:
			pace = maxBackoff
		}
		a.table.plan(p.RequestID, mono+max(min(max(p.NextAt.Sub(now), 0), pace), least))
	}
}
