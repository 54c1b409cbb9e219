package device

import "time"

// Clock is the source of time for every timer of the link: T1, T2, the PING
// silence and the reopen backoff. Tests pass a clock they advance by hand
// (devicetest.Clock), so no test waits for real time to pass.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed. stop cancels
	// the call and reports whether it did so before f was started.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// SystemClock returns the clock of the running system; its timers use the
// monotonic clock.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
