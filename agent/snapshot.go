package agent

import (
	"time"
)

// Snapshot is the agent's own state at one instant, for a status page and
// for tests: what the store cannot tell (the store's counts are read from
// the store). It is a copy; it never changes after it is returned.
type Snapshot struct {
	Started time.Time // when Run started

	LinkUp    bool      // the register link is up
	LinkSince time.Time // when LinkUp last changed
	LinkError string    // why the link went down, when it is down
	// LinkDevice is the device the register is on, open now or last
	// open, and LinkUSB its USB identity where known.
	LinkDevice, LinkUSB string

	LastCall      time.Time // when the last Alipay call ended; zero before the first
	LastCallError string    // why the last Alipay call got no usable answer; empty when it did
	// OperatorProblem is set while something only a person can fix stands
	// in the way: Alipay refuses the agent's credentials, knows none of the
	// register's payments, or answers with signatures that do not verify.
	OperatorProblem string
	// ClockOffset is how far the terminal's clock is ahead of Alipay's (the
	// Response-Time of the last verified answer), when that is more than 2
	// minutes either way; zero otherwise.
	ClockOffset time.Duration
	// MeasuredClockOffset is that offset as last measured, however small;
	// zero before the first verified answer with a Response-Time.
	MeasuredClockOffset time.Duration

	// StoreFault names what stops the payment store from taking new
	// payments (disk_full, read_only, file_removed, file_replaced,
	// write_failed, damaged) while it lasts, and StoreProblem says what happened
	// and what to do; both are empty when the store is well.
	StoreFault, StoreProblem string

	InFlight  int    // Alipay calls in flight
	Accepted  uint64 // payments accepted since start (repeats not counted)
	Finished  uint64 // payments made final since start
	Delivered uint64 // results confirmed by the register since start
	Calls     uint64 // Alipay calls made since start
	FollowUps uint64 // payments flagged for manual follow-up since start
	// StoreErrors counts the reads and commits of the store that failed
	// since start.
	StoreErrors uint64
}

// Snapshot returns the agent's state now. It is safe to call from any
// goroutine while Run runs.
func (a *Agent) Snapshot() Snapshot {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

// Watch returns the agent's state now and a channel that is closed at its
// next change, so that a status page or a test can wait for a change
// instead of asking again and again.
func (a *Agent) Watch() (Snapshot, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.changed == nil {
		a.changed = make(chan struct{})
	}
	return a.state, a.changed
}

// setState changes the shared state under its lock and wakes the watchers.
func (a *Agent) setState(fn func(*Snapshot)) {
	a.mu.Lock()
	fn(&a.state)
	if a.changed != nil {
		close(a.changed)
		a.changed = nil
	}
	a.mu.Unlock()
}

// noteCall records the end of an Alipay call in the shared state.
func (a *Agent) noteCall(o outcome) {
	msg := ""
	if o.err != nil {
		msg = o.err.Error()
	}
	n := a.table.calls()
	problem := a.watcher.problem()
	a.setState(func(s *Snapshot) {
		s.OperatorProblem = problem
		s.Calls++
		s.LastCall = a.now()
		s.LastCallError = msg
		s.InFlight = n
	})
}
