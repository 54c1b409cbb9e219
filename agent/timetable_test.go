package agent

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTimetableDueOrderAndLimits(t *testing.T) {
	const gap = 500 * time.Millisecond
	tt := newTimetable(gap)
	tt.plan("c", 10)
	tt.plan("b", 10) // same time as c: ties go by request id
	tt.plan("a", 30)
	tt.plan("d", 5)
	tt.plan("late", 100)

	tests := []struct {
		mono time.Duration
		n    int
		want []string
	}{
		{mono: 0, n: 10, want: nil},
		{mono: 5, n: 10, want: []string{"d"}},
		{mono: 10, n: 10, want: []string{"d", "b", "c"}},
		{mono: 10, n: 2, want: []string{"d", "b"}},
		{mono: 10, n: 0, want: nil},
		{mono: 99, n: 10, want: []string{"d", "b", "c", "a"}},
		{mono: 100, n: 10, want: []string{"d", "b", "c", "a", "late"}},
	}
	for _, tc := range tests {
		if got := tt.due(tc.mono, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("due(%d, %d) = %q, want %q", tc.mono, tc.n, got, tc.want)
		}
	}
	if got := tt.wake(2); got != 3 {
		t.Errorf("wake(2) = %v, want 3ns: the earliest payment, d, is due at 5", got)
	}
	if got := tt.wake(7); got != time.Nanosecond {
		t.Errorf("wake(7) = %v, want 1ns: d is due already", got)
	}
}

func TestTimetableSpacesCallsAndHoldsFirstCalls(t *testing.T) {
	const gap = 500 * time.Millisecond
	tt := newTimetable(gap)
	tt.plan("p", 0)
	tt.begin("p")
	if got := tt.due(time.Hour, 10); len(got) != 0 {
		t.Fatalf("a payment with a call in flight is due: %q", got)
	}
	if tt.calls() != 1 || !tt.inFlight("p") {
		t.Fatalf("calls() = %d, inFlight = %v after begin, want 1, true", tt.calls(), tt.inFlight("p"))
	}
	tt.end("p", time.Second, true)
	tt.plan("p", time.Second) // the answer asks for the next call at once
	if got := tt.due(time.Second+gap-1, 10); len(got) != 0 {
		t.Errorf("the next call is due %v after the last ended; want no sooner than the gap, %v", gap-1, gap)
	}
	if got := tt.due(time.Second+gap, 10); !slices.Equal(got, []string{"p"}) {
		t.Errorf("due one gap after the last call ended = %q, want [p]", got)
	}

	tt.plan("new", 0)
	tt.hold("new", 2*time.Second)
	if !tt.isHeld("new") {
		t.Fatal("isHeld = false after hold")
	}
	if got := tt.due(time.Second, 10); slices.Contains(got, "new") {
		t.Errorf("a held first call is due before its STATUS was acknowledged or the hold ran out: %q", got)
	}
	if got := tt.due(2*time.Second, 10); !slices.Contains(got, "new") {
		t.Errorf("a held first call is not due once the hold ran out: %q", got)
	}
	tt.release("new")
	if got := tt.due(0, 10); !slices.Equal(got, []string{"new"}) {
		t.Errorf("due at once after release = %q, want [new]", got)
	}
}

func TestTimetableForgetKeepsACallInFlightCounted(t *testing.T) {
	tt := newTimetable(time.Second)
	tt.plan("p", 0)
	tt.begin("p")
	tt.forget("p")
	if tt.calls() != 1 {
		t.Fatalf("calls() = %d after forgetting a payment with a call in flight, want 1: its worker is still busy", tt.calls())
	}
	if tt.planned() != 0 {
		t.Errorf("planned() = %d after forget, want 0", tt.planned())
	}
	tt.end("p", 0, true)
	if tt.calls() != 0 {
		t.Errorf("calls() = %d after the call ended, want 0", tt.calls())
	}
	if got := tt.due(time.Hour, 10); len(got) != 0 {
		t.Errorf("a forgotten payment is due: %q", got)
	}
	if got := tt.wake(0); got != 0 {
		t.Errorf("wake = %v with nothing planned, want 0", got)
	}
}

// model is the timetable as a plain scan over maps, which is what the loop
// did before: the reference the timetable must agree with.
type model struct {
	gap      time.Duration
	plan     map[string]time.Duration
	inflight map[string]bool
	lastCall map[string]time.Duration
	held     map[string]time.Duration
}

func (m *model) due(mono time.Duration, n int) (ready []string, wake time.Duration) {
	type entry struct {
		req string
		at  time.Duration
	}
	var list []entry
	for req, at := range m.plan {
		if m.inflight[req] {
			continue
		}
		if last, ok := m.lastCall[req]; ok {
			at = max(at, last+m.gap)
		}
		if until, ok := m.held[req]; ok {
			at = max(at, until)
		}
		if in := at - mono; in > 0 {
			if wake == 0 || in < wake {
				wake = in
			}
			continue
		}
		wake = time.Nanosecond
		list = append(list, entry{req, at})
	}
	slices.SortFunc(list, func(x, y entry) int {
		if c := cmp.Compare(x.at, y.at); c != 0 {
			return c
		}
		return strings.Compare(x.req, y.req)
	})
	for _, e := range list[:min(n, len(list))] {
		ready = append(ready, e.req)
	}
	return ready, wake
}

func TestTimetableAgreesWithAScanOfEveryPayment(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			const gap = 50
			tt := newTimetable(gap)
			m := &model{gap: gap, plan: map[string]time.Duration{}, inflight: map[string]bool{},
				lastCall: map[string]time.Duration{}, held: map[string]time.Duration{}}
			var mono time.Duration
			for step := range 5000 {
				req := fmt.Sprintf("p%02d", rng.IntN(40))
				at := mono + time.Duration(rng.IntN(200))
				var op string
				switch rng.IntN(8) {
				case 0, 1:
					op = "plan"
					tt.plan(req, at)
					m.plan[req] = at
				case 2:
					op = "hold"
					tt.hold(req, at)
					m.held[req] = at
				case 3:
					op = "release"
					tt.release(req)
					delete(m.held, req)
				case 4:
					if _, ok := m.plan[req]; !ok || m.inflight[req] {
						continue // the loop begins calls only for planned payments with none in flight
					}
					op = "begin"
					tt.begin(req)
					m.inflight[req] = true
				case 5:
					if !m.inflight[req] {
						continue // the loop ends only calls it began
					}
					op = "end"
					called := rng.IntN(4) > 0
					tt.end(req, mono, called)
					delete(m.inflight, req)
					if called {
						m.lastCall[req] = mono
					}
				case 6:
					op = "forget"
					tt.forget(req)
					delete(m.plan, req)
					delete(m.held, req)
					delete(m.lastCall, req)
				case 7:
					op = "time"
					mono += time.Duration(rng.IntN(100))
				}
				n := rng.IntN(12)
				want, wantWake := m.due(mono, n)
				if got := tt.due(mono, n); !slices.Equal(got, want) {
					t.Fatalf("step %d (%s %s): due(%d, %d) = %q, want %q", step, op, req, mono, n, got, want)
				}
				if got := tt.wake(mono); got != wantWake {
					t.Fatalf("step %d (%s %s): wake(%d) = %v, want %v", step, op, req, mono, got, wantWake)
				}
				if tt.calls() != len(m.inflight) || tt.planned() != len(m.plan) {
					t.Fatalf("step %d (%s %s): calls() = %d, planned() = %d, want %d and %d",
						step, op, req, tt.calls(), tt.planned(), len(m.inflight), len(m.plan))
				}
				if _, want := m.held[req]; tt.isHeld(req) != want {
					t.Fatalf("step %d (%s %s): isHeld = %v, want %v", step, op, req, !want, want)
				}
			}
		})
	}
}
