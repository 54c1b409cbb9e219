package agent

import (
	"container/heap"
	"time"
)

// timetable is the loop's plan of Alipay calls. For every payment it
// plans, it keeps when the next action is planned, whether a call is in
// flight, when the last call ended and until when the first call is held,
// all on the monotonic clock. The payments with no call in flight are
// ordered by when their next call may start, so that a loop turn finds what
// is due, and when the next one falls due, without looking at the others:
// a PAY costs the loop the same with ten payments waiting for Alipay or
// ten thousand (after a long outage, say).
//
// Invariants, kept by every method:
//   - an entry is in waiting exactly when it is planned and not busy, and
//     its index is its place there (-1 otherwise);
//   - an entry's start is max(planned, lastEnd+gap, heldUntil), the last
//     two only when they are set: no call follows the last one of the same
//     payment within gap, and a held first call waits for its STATUS;
//   - waiting is a heap by (start, request id), so that the same plan is
//     always worked in the same order.
type timetable struct {
	gap     time.Duration // least time between the end of one call and the start of the next
	entries map[string]*slot
	waiting slotHeap
	busy    int // entries with a call in flight
	nPlan   int // entries planned
}

// slot is what the timetable knows of one payment.
type slot struct {
	req       string
	planned   time.Duration // the next action, when isPlanned
	lastEnd   time.Duration // when the last call ended, when called
	heldUntil time.Duration // the first call waits for the STATUS at most until then, when held
	start     time.Duration // the earliest the next call may start; see timetable
	isPlanned bool
	called    bool
	held      bool
	busy      bool
	index     int // place in waiting, or -1
}

func newTimetable(gap time.Duration) *timetable {
	return &timetable{gap: gap, entries: map[string]*slot{}}
}

// slot returns req's entry, made when there is none.
func (t *timetable) slot(req string) *slot {
	s, ok := t.entries[req]
	if !ok {
		s = &slot{req: req, index: -1}
		t.entries[req] = s
	}
	return s
}

// place puts s where the invariants want it after a change.
func (t *timetable) place(s *slot) {
	s.start = s.planned
	if s.called {
		s.start = max(s.start, s.lastEnd+t.gap)
	}
	if s.held {
		s.start = max(s.start, s.heldUntil)
	}
	switch wait := s.isPlanned && !s.busy; {
	case wait && s.index >= 0:
		heap.Fix(&t.waiting, s.index)
	case wait:
		heap.Push(&t.waiting, s)
	case s.index >= 0:
		heap.Remove(&t.waiting, s.index)
	}
}

// plan plans req's next action at mono.
func (t *timetable) plan(req string, mono time.Duration) {
	s := t.slot(req)
	if !s.isPlanned {
		s.isPlanned = true
		t.nPlan++
	}
	s.planned = mono
	t.place(s)
}

// hold keeps req's next call from starting before mono, unless released
// first.
func (t *timetable) hold(req string, mono time.Duration) {
	s := t.slot(req)
	s.heldUntil, s.held = mono, true
	t.place(s)
}

// isHeld reports whether req's next call is held.
func (t *timetable) isHeld(req string) bool {
	s, ok := t.entries[req]
	return ok && s.held
}

// release lets req's held call start.
func (t *timetable) release(req string) {
	if s, ok := t.entries[req]; ok && s.held {
		s.held = false
		t.place(s)
	}
}

// begin records that a call for req is in flight.
func (t *timetable) begin(req string) {
	s := t.slot(req)
	if !s.busy {
		s.busy = true
		t.busy++
		t.place(s)
	}
}

// end records that req's call in flight is over; ended tells whether it
// was a call (whose end spaces the next one), not a commit tried again.
func (t *timetable) end(req string, mono time.Duration, ended bool) {
	s, ok := t.entries[req]
	if !ok {
		return
	}
	if s.busy {
		s.busy = false
		t.busy--
	}
	if ended {
		s.lastEnd, s.called = mono, true
	}
	t.place(s)
}

// inFlight reports whether a call for req is in flight.
func (t *timetable) inFlight(req string) bool {
	s, ok := t.entries[req]
	return ok && s.busy
}

// calls returns how many calls are in flight.
func (t *timetable) calls() int { return t.busy }

// planned returns how many payments are planned, in flight or not.
func (t *timetable) planned() int { return t.nPlan }

// forget drops what the timetable knows of req but a call in flight, which
// stays counted until it ends: the workers it holds are not free before.
func (t *timetable) forget(req string) {
	s, ok := t.entries[req]
	if !ok {
		return
	}
	if s.isPlanned {
		t.nPlan--
	}
	s.isPlanned, s.called, s.held = false, false, false
	t.place(s)
	if !s.busy {
		delete(t.entries, req)
	}
}

// due returns, earliest first, up to n of the payments whose next call may
// start at mono and that have none in flight. It reads only the part of
// the heap it returns, and changes nothing.
func (t *timetable) due(mono time.Duration, n int) []string {
	var ready []string
	if n <= 0 || len(t.waiting) == 0 || t.waiting[0].start > mono {
		return nil
	}
	// The smallest entries of a heap are found by walking it from the top
	// with a second heap of the places seen but not yet taken.
	front := placeHeap{h: t.waiting, at: []int{0}}
	for len(ready) < n && len(front.at) > 0 {
		i := heap.Pop(&front).(int)
		ready = append(ready, t.waiting[i].req)
		for c := 2*i + 1; c <= 2*i+2; c++ {
			if c < len(t.waiting) && t.waiting[c].start <= mono {
				heap.Push(&front, c)
			}
		}
	}
	return ready
}

// wake returns how long after mono the earliest waiting payment may start,
// at least a nanosecond, or zero when none waits.
func (t *timetable) wake(mono time.Duration) time.Duration {
	if len(t.waiting) == 0 {
		return 0
	}
	return max(t.waiting[0].start-mono, time.Nanosecond)
}

// before orders slots by start, then request id.
func before(x, y *slot) bool {
	if x.start != y.start {
		return x.start < y.start
	}
	return x.req < y.req
}

// slotHeap is a container/heap of slots, keeping each slot's index.
type slotHeap []*slot

func (h slotHeap) Len() int           { return len(h) }
func (h slotHeap) Less(i, j int) bool { return before(h[i], h[j]) }
func (h slotHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *slotHeap) Push(x any) {
	s := x.(*slot)
	s.index = len(*h)
	*h = append(*h, s)
}
func (h *slotHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	s.index = -1
	*h = old[:len(old)-1]
	return s
}

// placeHeap is a container/heap of places in a slotHeap, by the slots'
// order: the frontier of timetable.due's walk.
type placeHeap struct {
	h  slotHeap
	at []int
}

func (p placeHeap) Len() int           { return len(p.at) }
func (p placeHeap) Less(i, j int) bool { return before(p.h[p.at[i]], p.h[p.at[j]]) }
func (p placeHeap) Swap(i, j int)      { p.at[i], p.at[j] = p.at[j], p.at[i] }
func (p *placeHeap) Push(x any)        { p.at = append(p.at, x.(int)) }
func (p *placeHeap) Pop() any {
	i := p.at[len(p.at)-1]
	p.at = p.at[:len(p.at)-1]
	return i
}
