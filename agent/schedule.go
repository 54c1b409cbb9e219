package agent

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/posagent/posagent/queue"
)

// due is when a payment's next action falls due, read on two clocks: the
// wall-clock instant stored with the payment (NextAt), and the monotonic
// clock's reading at which the same wait ends. A payment is due at
// whichever comes first, so a wall clock stepped back (an NTP correction)
// never holds a payment up for longer than its pace, and a wall clock
// stepped forward brings deadlines on at once (docs/design.md, rule 9).
type due struct {
	wall time.Time
	mono time.Duration
}

// in is how long from (now, mono) until d comes; zero when it has.
func (d due) in(now time.Time, mono time.Duration) time.Duration {
	return max(min(d.wall.Sub(now), d.mono-mono), 0)
}

// minGap is the least time between the end of one call for a payment and
// the start of the next, whatever the decisions between them.
const minGap = 500 * time.Millisecond

// gap is the pause before a call that follows another at once (a cancel
// after the look at the deadline, a cancel after a mismatch): never more
// than the polling interval, so fast test settings stay fast.
func (a *Agent) gap() time.Duration { return min(minGap, a.opts.Polling.Interval) }

// schedule plans payment req's next action at next, a wall-clock instant
// written with the payment at wall-clock now.
func (a *Agent) schedule(req string, next, now time.Time) {
	a.plan[req] = due{wall: next, mono: a.mono() + max(next.Sub(now), 0)}
}

// forget drops what the loop keeps about payment req once it is final.
func (a *Agent) forget(req string) {
	delete(a.plan, req)
	delete(a.unsaved, req)
	delete(a.storeFails, req)
	delete(a.failures, req)
	delete(a.lastCall, req)
}

// plans schedules every payment p of a store just opened. A NextAt further
// ahead than the payment's pace (the wall clock was stepped back while the
// agent was stopped) is cut to that pace on the monotonic clock.
func (a *Agent) plans(ps []queue.Payment, now time.Time) {
	mono := a.mono()
	for i := range ps {
		p := &ps[i]
		pace := a.opts.Polling.Interval
		if decide(p, now) == actLate {
			pace = a.latePace()
		}
		a.plan[p.RequestID] = due{wall: p.NextAt, mono: mono + min(max(p.NextAt.Sub(now), 0), pace)}
	}
}

// dueNow returns the payments whose next action has come and that have no
// call in flight, earliest first (ties by request id, so that the same
// plan is always worked in the same order), and how long until the next
// one comes (zero when none is planned).
func (a *Agent) dueNow(now time.Time, mono time.Duration) (ready []string, wake time.Duration) {
	type entry struct {
		req string
		at  time.Duration
	}
	var list []entry
	gap := a.gap()
	for req, d := range a.plan {
		if _, busy := a.inflight[req]; busy {
			continue
		}
		in := d.in(now, mono)
		if last, ok := a.lastCall[req]; ok && last+gap-mono > in {
			in = last + gap - mono
		}
		if in > 0 {
			if wake == 0 || in < wake {
				wake = in
			}
			continue
		}
		list = append(list, entry{req, d.wall.Sub(now)})
	}
	slices.SortFunc(list, func(x, y entry) int {
		if c := cmp.Compare(x.at, y.at); c != 0 {
			return c
		}
		return strings.Compare(x.req, y.req)
	})
	for _, e := range list {
		ready = append(ready, e.req)
	}
	return ready, wake
}
