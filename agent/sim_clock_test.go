package agent

import (
	"fmt"
	"strings"
	"time"
)

// simClock is the simulation's virtual time, read three ways:
//
//   - Mono: monotonic time since the history began. It only moves forward,
//     and every timing invariant is measured on it.
//   - True: the real UTC time, which Alipay keeps (paymentCreateTime, the
//     cancel window). It moves with Mono.
//   - Wall: the terminal's wall clock, what the agent reads as time.Now. It
//     moves with Mono and is also stepped forward and back, as NTP does to a
//     terminal whose clock drifted or was set by hand, so it can differ from
//     True by minutes or hours.
type simClock struct {
	trueStart time.Time     // True at Mono zero
	mono      time.Duration // Mono now
	skew      time.Duration // Wall minus True
}

// Mono returns the monotonic reading.
func (c *simClock) Mono() time.Duration { return c.mono }

// True returns the real time, Alipay's clock.
func (c *simClock) True() time.Time { return c.trueStart.Add(c.mono) }

// Wall returns the terminal's wall clock.
func (c *simClock) Wall() time.Time { return c.True().Add(c.skew) }

// advance lets d pass: every reading moves by d.
func (c *simClock) advance(d time.Duration) {
	if d > 0 {
		c.mono += d
	}
}

// step moves the wall clock alone by d (negative: back).
func (c *simClock) step(d time.Duration) { c.skew += d }

// simTrace is the step-by-step record of one history, printed when the
// history breaks an invariant: replaying its seed gives the same lines.
type simTrace struct {
	clock *simClock
	lines []string
}

// add records one line stamped with the monotonic and wall readings.
func (t *simTrace) add(format string, args ...any) {
	m := t.clock.Mono()
	t.lines = append(t.lines, fmt.Sprintf("%9.3fs  wall %s  %s",
		m.Seconds(), t.clock.Wall().Format("01-02 15:04:05.000"), fmt.Sprintf(format, args...)))
}

// String returns the trace, one line each.
func (t *simTrace) String() string { return strings.Join(t.lines, "\n") }
