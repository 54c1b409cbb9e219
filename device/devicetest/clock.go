package devicetest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Clock is a clock that moves only when Advance is called, so tests of
// timeouts run without waiting. It satisfies device.Clock. Callbacks run
// synchronously inside Advance, in the order of their deadlines, outside the
// clock's lock, so a callback may use the clock.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	next    int // id of the next timer
	timers  map[int]*fakeTimer
	changed chan struct{} // closed and replaced whenever timers change
}

type fakeTimer struct {
	id   int
	at   time.Time
	call func()
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start, timers: map[int]*fakeTimer{}, changed: make(chan struct{})}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f to run when the clock has been advanced by d.
func (c *Clock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.next
	c.next++
	c.timers[id] = &fakeTimer{id: id, at: c.now.Add(d), call: f}
	c.signal()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, pending := c.timers[id]
		delete(c.timers, id)
		c.signal()
		return pending
	}
}

// signal wakes waiters; c.mu is held.
func (c *Clock) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Advance moves the clock forward by d, running every timer that falls due on
// the way, each with the clock reading its deadline.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var due *fakeTimer
		for _, t := range c.timers {
			if !t.at.After(target) && (due == nil || t.at.Before(due.at) || t.at.Equal(due.at) && t.id < due.id) {
				due = t
			}
		}
		if due == nil {
			c.now = target
			c.signal()
			c.mu.Unlock()
			return
		}
		delete(c.timers, due.id)
		if due.at.After(c.now) {
			c.now = due.at
		}
		c.signal()
		c.mu.Unlock()
		due.call()
	}
}

// Pending returns how long from now each pending timer has left, shortest
// first.
func (c *Clock) Pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var left []time.Duration
	for _, t := range c.timers {
		left = append(left, t.at.Sub(c.now))
	}
	sort.Slice(left, func(i, j int) bool { return left[i] < left[j] })
	return left
}

// WaitTimer blocks until a timer is pending that falls due exactly d from
// now, and returns an error if ctx ends first. Tests call it before Advance
// so the code under test has armed the timer they mean to fire.
func (c *Clock) WaitTimer(ctx context.Context, d time.Duration) error {
	for {
		c.mu.Lock()
		changed := c.changed
		for _, t := range c.timers {
			if t.at.Sub(c.now) == d {
				c.mu.Unlock()
				return nil
			}
		}
		c.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("no timer of %v was armed (pending: %v): %w", d, c.Pending(), ctx.Err())
		}
	}
}
