package agent

// A deterministic simulation of the agent, in the manner of FoundationDB's
// simulator and TigerBeetle's VOPR: the real decision code (loop, decide,
// outcome handling, the real queue on a bbolt file) is driven by a seeded
// random world (sim_alipay_test.go, sim_register_test.go) on a virtual clock
// that also jumps (sim_clock_test.go), with crashes at random steps, an
// agent set up for the wrong merchant or with a key that verifies no
// answer, a disk that fails for a while and a store file damaged at crashes
// (sim_disk_test.go), and the invariants of sim_check_test.go are checked
// after every step. One seed
// gives one history; a failing history prints its seed and a trace that
// replays it.
//
//	POSAGENT_SIM_HISTORIES=N POSAGENT_SIM_SEED=S go test ./agent -run TestSimulation -v
//
// runs N histories with seeds S, S+1, ... S+N-1; history S alone is replayed
// with POSAGENT_SIM_HISTORIES=1 POSAGENT_SIM_SEED=S.

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/device"
)

// simDefaultHistories keeps the test under about 30 s with -race on two
// cores.
const simDefaultHistories = 60

// simCoverageHistories is how many histories a run needs for its coverage
// to be checked: `POSAGENT_SIM_HISTORIES=300` or more.
const simCoverageHistories = 300

// simMaxSteps bounds one history; a history that needs more has spun.
const simMaxSteps = 200_000

func TestSimulation(t *testing.T) {
	t.Parallel()
	n := simDefaultHistories
	if s := os.Getenv("POSAGENT_SIM_HISTORIES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("POSAGENT_SIM_HISTORIES=%q: give a number of histories of 1 or more", s)
		}
		n = v
	}
	seed := rand.Uint64() % 1e9
	if s := os.Getenv("POSAGENT_SIM_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("POSAGENT_SIM_SEED=%q: give a seed as a decimal number", s)
		}
		seed = v
	}
	t.Logf("simulation: %d histories from seed %d", n, seed)

	var (
		total    simStats
		byInv    = map[string][]uint64{}
		traced   bool
		dir      = simDir(t)
		problems []string
	)
	for i := range n {
		s := seed + uint64(i)
		h := newSimHistory(s, filepath.Join(dir, fmt.Sprintf("h%d.db", i)))
		err := h.run()
		total.add(&h.stats)
		if err != nil {
			problems = append(problems, fmt.Sprintf("seed %d: %v", s, err))
			continue
		}
		if len(h.check.violations) == 0 {
			continue
		}
		invs := map[string]bool{}
		for _, v := range h.check.violations {
			invs[v.inv] = true
		}
		for inv := range invs {
			byInv[inv] = append(byInv[inv], s)
		}
		if !traced {
			traced = true
			t.Logf("history %d (seed %d) broke invariants; its trace (replay: POSAGENT_SIM_HISTORIES=1 POSAGENT_SIM_SEED=%d):\n%s",
				i, s, s, h.trace)
		}
		var vs []string
		for _, v := range h.check.violations {
			vs = append(vs, "  "+v.String())
		}
		t.Errorf("seed %d: %d violations:\n%s", s, len(h.check.violations), strings.Join(vs, "\n"))
		total.violations += len(h.check.violations)
	}
	for _, p := range problems {
		t.Error(p)
	}
	if len(byInv) > 0 {
		invs := slices.Sorted(func(yield func(string) bool) {
			for k := range byInv {
				if !yield(k) {
					return
				}
			}
		})
		var lines []string
		for _, inv := range invs {
			ss := byInv[inv]
			lines = append(lines, fmt.Sprintf("  %-32s %3d histories, e.g. seeds %v", inv, len(ss), ss[:min(len(ss), 5)]))
		}
		t.Logf("broken invariants:\n%s", strings.Join(lines, "\n"))
	}
	t.Logf("coverage: %s", total.coverage())
	// A simulation that never reaches a path proves nothing about it: over
	// enough histories every way of finishing and every kind of answer and
	// fault must have happened. The rarest (a wrong merchant's setup fixed
	// mid-history, say) need more histories than the default run has, so
	// that with a random seed the default run never fails for want of luck.
	if n >= simCoverageHistories {
		for _, miss := range total.missing() {
			t.Errorf("no history covered %s: the simulation no longer reaches it", miss)
		}
	}
	t.Logf("simulation: %d histories, %d payments, %d crashes, %d violations", n, total.payments, total.crashes, total.violations)
}

// simDir returns a fresh folder for the histories' store files, removed at
// the end of the test. Where the machine has a memory file system
// (/dev/shm) the folder is made there: a history commits hundreds of bbolt
// transactions, each synced to disk, and on a disk those syncs, not the
// agent, would take nearly all of the test's time. A crash in the simulation
// is the process dying, which loses nothing synced or not, so the store
// behaves the same on either.
func simDir(t *testing.T) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "posagent-sim-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// simStats counts what the histories covered.
type simStats struct {
	payments, crashes, calls, violations int
	stepsBack, stepsForward              int
	answers                              [simKinds]int
	finals                               map[string]int // "SUCCESS", "CANCELLED TIMEOUT", ...
	said                                 map[string]int // verified answers taken, by what they said
	// absentUp, absentDown, keyUp, keyDown count the operator problems
	// raised and cleared; failingRuns the processes on a failing store,
	// unsaved the answers they could not commit; salvages the damaged
	// files salvaged, rolledBack the final payments a salvage brought back
	// unfinished, rewritten those of them that then ended with another
	// RESULT than the first.
	absentUp, absentDown, keyUp, keyDown int
	failingRuns, unsaved                 int
	salvages, rolledBack, rewritten      int
}

func (s *simStats) add(o *simStats) {
	s.payments += o.payments
	s.crashes += o.crashes
	s.calls += o.calls
	s.stepsBack += o.stepsBack
	s.stepsForward += o.stepsForward
	s.absentUp += o.absentUp
	s.absentDown += o.absentDown
	s.keyUp += o.keyUp
	s.keyDown += o.keyDown
	s.failingRuns += o.failingRuns
	s.unsaved += o.unsaved
	s.salvages += o.salvages
	s.rolledBack += o.rolledBack
	s.rewritten += o.rewritten
	for k, v := range o.answers {
		s.answers[k] += v
	}
	if s.finals == nil {
		s.finals, s.said = map[string]int{}, map[string]int{}
	}
	for k, v := range o.finals {
		s.finals[k] += v
	}
	for k, v := range o.said {
		s.said[k] += v
	}
}

// coverage is a one-line summary of what happened.
func (s *simStats) coverage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d calls, %d wall steps back, %d forward; wrong-merchant problem raised %d, cleared %d; key problem raised %d, cleared %d; "+
		"%d processes on a failing store, %d answers not committed; %d salvages, %d final payments brought back unfinished, %d of them ended with another RESULT; answers:",
		s.calls, s.stepsBack, s.stepsForward, s.absentUp, s.absentDown, s.keyUp, s.keyDown,
		s.failingRuns, s.unsaved, s.salvages, s.rolledBack, s.rewritten)
	for k, v := range s.answers {
		fmt.Fprintf(&b, " %s %d,", simKind(k), v)
	}
	b.WriteString(" finals:")
	for _, k := range slices.Sorted(mapKeys(s.finals)) {
		fmt.Fprintf(&b, " %s %d,", k, s.finals[k])
	}
	b.WriteString(" verified answers taken:")
	for _, k := range slices.Sorted(mapKeys(s.said)) {
		fmt.Fprintf(&b, " %s %d,", k, s.said[k])
	}
	return strings.TrimSuffix(b.String(), ",")
}

// missing lists what a full run must cover and did not.
func (s *simStats) missing() []string {
	var out []string
	for k, v := range s.answers {
		if v == 0 {
			out = append(out, "an answer of kind "+simKind(k).String())
		}
	}
	for _, f := range []string{"SUCCESS", "FAIL", "CANCELLED REGISTER_CANCEL", "CANCELLED TIMEOUT", "AMOUNT_MISMATCH"} {
		found := false
		for k := range s.finals {
			found = found || strings.Contains(k, f)
		}
		if !found {
			out = append(out, "a payment ending "+f)
		}
	}
	for _, f := range []string{"FAIL ORDER_NOT_EXIST"} { // the grace rule
		if s.finals[f] == 0 {
			out = append(out, "a payment ending "+f)
		}
	}
	for _, a := range []string{"cancel F ORDER_NOT_EXIST", "cancel F CANCEL_WINDOW_EXCEED", "cancel S", "inquiry S SUCCESS (other amount)", "inquiry S PENDING"} {
		if s.said[a] == 0 {
			out = append(out, "a verified "+a)
		}
	}
	for what, n := range map[string]int{
		"the wrong-merchant problem raised": s.absentUp, "the wrong-merchant problem cleared": s.absentDown,
		"the key problem raised": s.keyUp, "the key problem cleared": s.keyDown,
		"an answer a failing store could not commit": s.unsaved,
		"a salvage": s.salvages, "a final payment a salvage brought back unfinished": s.rolledBack,
	} {
		if n == 0 {
			out = append(out, what)
		}
	}
	slices.Sort(out)
	switch {
	case s.crashes == 0:
		out = append(out, "a crash")
	case s.stepsBack == 0:
		out = append(out, "a wall clock step back")
	case s.stepsForward == 0:
		out = append(out, "a wall clock step forward")
	}
	return out
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// simEvent is something that happens at a monotonic instant.
type simEvent struct {
	at    time.Duration
	seq   int // ties run in the order scheduled
	label string
	fn    func()
}

type simEvents []*simEvent

func (q simEvents) Len() int { return len(q) }
func (q simEvents) Less(i, j int) bool {
	return q[i].at < q[j].at || q[i].at == q[j].at && q[i].seq < q[j].seq
}
func (q simEvents) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simEvents) Push(x any)   { *q = append(*q, x.(*simEvent)) }
func (q *simEvents) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// simFlight is a call at Alipay.
type simFlight struct {
	call    simCall
	epoch   int       // the agent process that made it
	wall    time.Time // the agent's wall clock when it started
	start   time.Duration
	kind    simKind
	reached bool
	served  bool
	answer  simAnswer
	said    *simSaid
}

// simHistory is one simulated run of the world and the agent.
type simHistory struct {
	seed   uint64
	rng    *rand.Rand
	path   string
	clock  *simClock
	trace  *simTrace
	alipay *simAlipay
	reg    *simRegister
	check  *simChecker
	stats  simStats

	agent  *simAgent // nil while the process is down
	epoch  int
	link   bool          // the cable and the register are there
	wake   time.Duration // when the loop's timer fires; -1: not set
	end    time.Duration // the history ends at this monotonic time
	events simEvents
	seq    int
	calls  int
	flight []*simFlight // calls at Alipay, in the order started
	poked  bool         // the agent was handed something by the current event
	spins  int          // zero sleeps in a row at spinAt
	spinAt time.Duration

	outageFrom, outageTo time.Duration // Alipay unreachable; outageFrom -1: none

	// The agent set up for another merchant from misFrom to misTo, and
	// holding a key that verifies no answer from keyFrom to keyTo (-1:
	// never); the disk failing from failFrom to failTo (-1: never).
	misFrom, misTo   time.Duration
	keyFrom, keyTo   time.Duration
	failFrom, failTo time.Duration
	// damages: crashes may damage the store file; damageNext: the restart
	// due finds it damaged.
	damages, damageNext bool
}

func newSimHistory(seed uint64, path string) *simHistory {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	// Alipay's clock starts on a random day; often in the half hour before
	// midnight UTC+8, so that cancel windows (00:15 UTC+8) end during the
	// history.
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(365))
	start := day.Add(time.Duration(rng.Int64N(int64(24 * time.Hour))))
	nearMidnight := rng.IntN(3) == 0
	if nearMidnight {
		start = day.Add(15*time.Hour + 30*time.Minute + time.Duration(rng.Int64N(int64(28*time.Minute))))
	}
	// The terminal's clock is off by a little, or (near midnight, where it
	// matters most) by minutes: ahead, the agent dates a payment on the next
	// day and its idea of the cancel window ends a day after Alipay's;
	// behind, it still thinks the window open when Alipay's has closed.
	clock := &simClock{trueStart: start}
	switch {
	case nearMidnight:
		clock.skew = time.Duration(1+rng.IntN(30)) * time.Minute
		if rng.IntN(2) == 0 {
			clock.skew = -clock.skew
		}
	case rng.IntN(4) == 0:
		clock.skew = time.Duration(rng.Int64N(int64(180*time.Second))) - 90*time.Second
	}
	h := &simHistory{seed: seed, rng: rng, path: path, clock: clock, trace: &simTrace{clock: clock},
		wake: -1, end: 45 * time.Minute, link: true, outageFrom: -1,
		misFrom: -1, misTo: -1, keyFrom: -1, keyTo: -1, failFrom: -1, failTo: -1}
	// An outage: for a while no call gets an answer (timeouts, 5xx), so
	// deadlines pass and cancels are late. Near midnight it spans the end of
	// the cancel window (00:15 UTC+8), so that cancels held up by it reach
	// Alipay after its window closed.
	switch {
	case nearMidnight:
		h.outageTo = simWindowEnd(start).Sub(start) + time.Duration(1+rng.IntN(8))*time.Minute
		h.outageFrom = max(0, h.outageTo-time.Duration(15+rng.IntN(20))*time.Minute)
	case rng.IntN(3) == 0:
		h.outageFrom = time.Duration(rng.Int64N(int64(20 * time.Minute)))
		h.outageTo = h.outageFrom + 5*time.Minute + time.Duration(rng.Int64N(int64(20*time.Minute)))
	}
	// The setup and the disk: the agent set up for the wrong merchant
	// (mostly from the start, as a wrong configuration is; sometimes fixed
	// during the history), a wrong or rotated Alipay key for a while, a
	// disk that fails for a while, a store file damaged at crashes.
	if rng.IntN(5) == 0 {
		if rng.IntN(3) > 0 {
			h.misFrom = 0
		} else {
			h.misFrom = time.Duration(rng.Int64N(int64(5 * time.Minute)))
		}
		if rng.IntN(3) > 0 {
			h.misTo = h.misFrom + 8*time.Minute + time.Duration(rng.Int64N(int64(12*time.Minute)))
		}
	}
	if rng.IntN(7) == 0 {
		h.keyFrom = time.Duration(rng.Int64N(int64(20 * time.Minute)))
		h.keyTo = h.keyFrom + 2*time.Minute + time.Duration(rng.Int64N(int64(8*time.Minute)))
	}
	if rng.IntN(7) == 0 {
		h.failFrom = 2*time.Minute + time.Duration(rng.Int64N(int64(23*time.Minute)))
		h.failTo = h.failFrom + time.Minute + time.Duration(rng.Int64N(int64(7*time.Minute)))
	}
	h.damages = rng.IntN(5) == 0
	h.alipay = newSimAlipay(rng)
	h.reg = &simRegister{h: h, rng: rng, pays: map[string]device.Pay{}, accepted: map[string]bool{}}
	h.check = newSimChecker(h)
	h.stats.finals, h.stats.said = map[string]int{}, map[string]int{}
	return h
}

// at schedules fn at monotonic time t.
func (h *simHistory) at(t time.Duration, label string, fn func()) {
	h.seq++
	heap.Push(&h.events, &simEvent{at: t, seq: h.seq, label: label, fn: fn})
}

// after schedules fn d from now.
func (h *simHistory) after(d time.Duration, label string, fn func()) {
	h.at(h.clock.Mono()+d, label, fn)
}

// running reports whether the agent process is up.
func (h *simHistory) running() bool { return h.agent != nil }

// linkReady reports whether the register and a running agent can talk.
func (h *simHistory) linkReady() bool { return h.link && h.agent != nil }

// run plays the history to its end. It returns an error only when the
// simulation itself failed (the store could not be opened); broken
// invariants are in h.check.violations.
func (h *simHistory) run() error {
	h.trace.add("history seed %d: Alipay's clock %s, answers %v", h.seed, h.clock.True().Format(time.RFC3339), h.alipay.faults)
	if err := h.start(); err != nil {
		return err
	}
	if err := h.afterEvent(); err != nil {
		return err
	}
	h.reg.plan(3 + h.rng.IntN(8))
	h.planClock()
	h.planCrashes()
	h.planWorld()
	h.planDisk()
	if h.outageFrom >= 0 {
		h.at(h.outageFrom, "alipay: outage", func() { h.trace.add("alipay: unreachable until %.3fs", h.outageTo.Seconds()) })
	}
	// The checker also looks at every instant nothing happens, so that a
	// silence is caught when it becomes one.
	var heartbeat func()
	heartbeat = func() { h.after(5*time.Second, "check", heartbeat) }
	heartbeat()
	defer func() {
		if h.agent != nil {
			h.agent.stop()
		}
	}()
	var err error
	for steps := 0; ; steps++ {
		if steps == simMaxSteps {
			h.check.fail(invRunaway, "-", "still running after %d steps", steps)
			return nil
		}
		next, timer := h.end, false
		if len(h.events) > 0 && h.events[0].at < next {
			next = h.events[0].at
		}
		if h.agent != nil && h.wake >= 0 && h.wake <= next {
			next, timer = h.wake, true
		}
		if next >= h.end {
			return nil
		}
		h.clock.advance(next - h.clock.Mono())
		h.poked = false
		if timer {
			h.wake, h.poked = -1, true
		} else {
			e := heap.Pop(&h.events).(*simEvent)
			e.fn()
		}
		if err = h.afterEvent(); err != nil {
			return err
		}
	}
}

// start starts an agent process on the store and, when the register is
// there, brings the link up.
func (h *simHistory) start() error {
	failing, damaged := h.failing(), ""
	if h.damageNext && !failing {
		damaged = h.damage()
	}
	h.damageNext = false
	a, err := startSimAgent(h.path, h.clock, h.seed*1000+uint64(h.epoch), failing)
	if err != nil {
		return fmt.Errorf("start the agent: %w", err)
	}
	h.agent = a
	h.trace.add("agent: process %d starts%s", h.epoch, map[bool]string{true: " on a store it cannot write"}[failing])
	if rep := a.salvage(); rep != nil {
		h.stats.salvages++
		h.trace.add("agent: the store was salvaged: %s", rep)
	}
	h.check.restarted(failing, damaged)
	h.poked = true
	if h.link {
		h.agent.linkUp()
		h.check.linkUp()
	}
	return nil
}

// setLink takes the register link down or up.
func (h *simHistory) setLink(up bool) {
	if up == h.link {
		return
	}
	h.link = up
	h.trace.add("link %s", map[bool]string{true: "up, HELLO exchanged", false: "down"}[up])
	if h.agent == nil {
		return
	}
	h.poked = true
	if up {
		h.agent.linkUp()
		h.check.linkUp()
	} else {
		h.agent.linkDown()
	}
}

// toAgent hands the agent one message from the register.
func (h *simHistory) toAgent(m device.Message) {
	h.trace.add("register -> %s", simMessage(m))
	if p, ok := m.(device.Pay); ok && h.check.pays[p.Req] == nil {
		h.stats.payments++
	}
	h.check.toAgent(m)
	h.agent.receive(m)
	h.poked = true
}

// afterEvent runs the loop's pass when the event reached the agent, then
// starts the calls it made, delivers what it sent and checks the
// invariants.
func (h *simHistory) afterEvent() error {
	if h.agent != nil && h.poked {
		sleep := h.agent.tick(h.clock)
		h.wake = h.clock.Mono() + sleep
		if sleep <= 0 {
			h.wake = h.clock.Mono() + time.Millisecond // the loop ticks again at once; a repeat is a spin
			h.zeroSleep()
		}
		for _, c := range h.agent.calls(func() int { h.calls++; return h.calls }) {
			h.begin(c)
		}
		msgs := h.agent.sent()
		// The agent's resend walks a map: order one batch by req so that a
		// seed replays the same history (the messages of one req keep their
		// order).
		sort.SliceStable(msgs, func(i, j int) bool { return simReq(msgs[i]) < simReq(msgs[j]) })
		for _, m := range msgs {
			if !h.link {
				h.trace.add("agent -> %s (dropped: link down)", simMessage(m))
				continue
			}
			h.trace.add("agent -> %s", simMessage(m))
			first := h.check.pays[simReq(m)] != nil && h.check.pays[simReq(m)].final == nil
			h.check.fromAgent(m)
			if r, ok := m.(device.Result); ok {
				h.stats.finals[r.Status+" "+r.Code]++
				if first && h.damages && h.rng.IntN(3) == 0 {
					// The power fails just after a payment became final,
					// and the file is damaged: its copy from before may
					// still be in a page the commit freed.
					down := time.Duration(h.rng.Int64N(int64(20 * time.Second)))
					h.after(time.Millisecond, "agent: crash", func() { h.damageNext = true; h.crash(down) })
				}
			}
			h.reg.receive(m)
		}
	}
	h.check.step()
	return nil
}

// zeroSleep counts the loop's requests to be woken at once at one instant.
func (h *simHistory) zeroSleep() {
	h.spins++
	if h.spins > 50 && h.spinAt == h.clock.Mono() {
		h.check.fail(invBusyLoop, "-", "the loop asked to be woken at once %d times at one instant", h.spins)
	}
	if h.spinAt != h.clock.Mono() {
		h.spinAt, h.spins = h.clock.Mono(), 1
	}
}

// begin starts call c at Alipay: it draws how the answer will come, when
// Alipay serves it and when the answer reaches the agent.
func (h *simHistory) begin(c simCall) {
	f := &simFlight{call: c, epoch: h.epoch, wall: h.clock.Wall(), start: h.clock.Mono(), kind: h.alipay.faults.draw(h.rng)}
	if f.outage(h) {
		f.kind = []simKind{kindTimeout, kind5xx}[h.rng.IntN(2)]
	}
	f.reached = f.kind.reaches(h.rng) && !f.outage(h)
	h.flight = append(h.flight, f)
	h.stats.calls++
	h.stats.answers[f.kind]++
	what := "inquiryPayment"
	if c.Cancel {
		what = "cancel"
	}
	h.trace.add("call #%d %s %s", c.ID, what, c.Req)
	h.check.started(c)
	serve := time.Duration(20+h.rng.IntN(700)) * time.Millisecond
	back := serve + time.Duration(10+h.rng.IntN(500))*time.Millisecond
	if h.rng.IntN(20) == 0 {
		back += time.Duration(h.rng.Int64N(int64(8 * time.Second))) // a slow answer
	}
	if f.kind == kindTimeout {
		back = 15 * time.Second // the client's timeout
	}
	h.after(serve, "alipay: serve", func() { h.serve(f) })
	h.after(back, "alipay: answer", func() { h.deliver(f) })
}

// outage reports whether f started while Alipay was unreachable: nothing
// of it reaches Alipay, and no answer comes back.
func (f *simFlight) outage(h *simHistory) bool {
	return h.outageFrom >= 0 && f.start >= h.outageFrom && f.start < h.outageTo
}

// serve has Alipay process call f now.
func (h *simHistory) serve(f *simFlight) {
	if f.served {
		return
	}
	f.served = true
	f.answer, f.said = h.alipay.serve(f.call, f.kind, f.reached, h.clock.True())
	if f.reached && f.call.Cancel {
		h.trace.add("alipay: cancel #%d of %s reached Alipay: %s", f.call.ID, f.call.Req, f.answer.describe())
	}
}

// deliver hands the answer to call f to the agent that made it, if it is
// still running.
func (h *simHistory) deliver(f *simFlight) {
	if f.epoch != h.epoch {
		return // lost at a crash
	}
	h.serve(f)
	h.flight = slices.DeleteFunc(h.flight, func(x *simFlight) bool { return x == f })
	h.trace.add("answer #%d %s (%s): %s", f.call.ID, f.call.Req, f.kind, f.answer.describe())
	if f.said != nil {
		h.stats.said[f.said.String()]++
	}
	h.check.answered(f.call, f.wall, f.said, f.answer)
	h.agent.answer(f.call, f.answer, h.clock.Mono()-f.start)
	h.poked = true
}

// planClock schedules the history's steps of the wall clock.
func (h *simHistory) planClock() {
	for range h.rng.IntN(4) {
		at := time.Duration(h.rng.Int64N(int64(35 * time.Minute)))
		var d time.Duration
		switch h.rng.IntN(3) {
		case 0:
			d = -30 * time.Minute // an NTP step after a drift, or a wrong time zone fixed
		case 1:
			d = -time.Duration(1+h.rng.IntN(60)) * time.Minute
		default:
			d = time.Duration(5+h.rng.IntN(180)) * time.Minute
		}
		h.at(at, "clock: step", func() {
			h.clock.step(d)
			if d < 0 {
				h.stats.stepsBack++
			} else {
				h.stats.stepsForward++
			}
			h.trace.add("clock: the wall clock steps %s (monotonic clock unchanged)", d)
		})
	}
}

// planWorld schedules the changes of the agent's setup: the wrong merchant
// and the key that verifies nothing.
func (h *simHistory) planWorld() {
	set := func(from, to time.Duration, what string, flag *bool) {
		if from < 0 {
			return
		}
		h.at(from, "setup: "+what, func() { *flag = true; h.trace.add("setup: %s", what) })
		if to >= 0 {
			h.at(to, "setup: fixed", func() { *flag = false; h.trace.add("setup: fixed: no longer %s", what) })
		}
	}
	set(h.misFrom, h.misTo, "the agent asks another merchant than the register pays", &h.alipay.misconfigured)
	if h.misTo >= 0 {
		// The setup was fixed for the next sale, whose answers show it.
		h.reg.planSale(len(h.reg.pays), h.misTo+time.Duration(h.rng.Int64N(int64(2*time.Minute))))
	}
	set(h.keyFrom, h.keyTo, "the agent's Alipay public key verifies no answer", &h.alipay.badKey)
}

// planCrashes schedules the history's crashes: the process dies (power
// loss, kill), the store is closed as the kernel closes it, calls in flight
// are lost (though Alipay may still have served them), and after a while a
// new process starts on the same store.
func (h *simHistory) planCrashes() {
	for range h.rng.IntN(4) {
		at := time.Duration(h.rng.Int64N(int64(40 * time.Minute)))
		var down time.Duration
		switch n := h.rng.IntN(10); {
		case n < 7:
			down = time.Duration(h.rng.Int64N(int64(60 * time.Second)))
		case n < 9:
			down = time.Minute + time.Duration(h.rng.Int64N(int64(14*time.Minute)))
		default:
			down = 30*time.Minute + time.Duration(h.rng.Int64N(int64(150*time.Minute))) // the terminal was off
		}
		h.at(at, "agent: crash", func() { h.crash(down) })
	}
}

// crash kills the agent process and schedules its restart.
func (h *simHistory) crash(down time.Duration) {
	if h.agent == nil {
		return
	}
	// A new process takes a second at least to start: the pace between
	// two calls of one payment holds across a restart as well.
	down = max(down, time.Second)
	h.trace.add("CRASH: the agent process dies; back in %s", down.Round(time.Millisecond))
	for _, f := range h.flight {
		if !f.served && h.rng.IntN(2) == 0 {
			h.serve(f) // the request was already on its way
		}
		h.check.lost(f.call)
		h.trace.add("call #%d lost with the process", f.call.ID)
	}
	h.flight = nil
	if err := h.agent.stop(); err != nil {
		h.trace.add("closing the store: %v", err)
	}
	h.agent, h.wake = nil, -1
	h.epoch++
	h.stats.crashes++
	if h.damages && h.rng.IntN(4) > 0 {
		h.damageNext = true
	}
	h.after(down, "agent: restart", func() {
		h.end = max(h.end, h.clock.Mono()+15*time.Minute)
		if err := h.start(); err != nil {
			panic(fmt.Sprintf("simulation: %v", err))
		}
	})
}

// simReq is the req a message is about.
func simReq(m device.Message) string {
	switch m := m.(type) {
	case device.Status:
		return m.Req
	case device.Result:
		return m.Req
	}
	return ""
}

// simMessage renders a register message for the trace.
func simMessage(m device.Message) string {
	switch m := m.(type) {
	case device.Pay:
		s := fmt.Sprintf("PAY req=%s amt=%d cur=%s", m.Req, m.Amount, m.Currency)
		if m.PID != "" {
			s += " pid=" + m.PID
		}
		if m.Expiry > 0 {
			s += fmt.Sprintf(" exp=%d", int(m.Expiry.Seconds()))
		}
		return s
	case device.Cancel:
		return "CANCEL req=" + m.Req
	case device.Query:
		return "QUERY req=" + m.Req
	case device.Done:
		return "DONE req=" + m.Req
	case device.Status:
		s := fmt.Sprintf("STATUS req=%s state=%s", m.Req, m.State)
		if device.IsFinal(m.State) || m.Code != "" {
			s += fmt.Sprintf(" code=%s pid=%s amt=%d cur=%s msg=%q time=%s", m.Code, m.PID, m.Amount, m.Currency, m.Msg, m.Time)
		}
		return s
	case device.Result:
		return fmt.Sprintf("RESULT req=%s status=%s code=%s pid=%s amt=%d cur=%s msg=%q time=%s",
			m.Req, m.Status, m.Code, m.PID, m.Amount, m.Currency, m.Msg, m.Time)
	}
	return fmt.Sprintf("%T", m)
}

// traceTruth puts the changes of payment req's truth at Alipay into the
// trace at the instants they happen.
func (h *simHistory) traceTruth(req string) {
	p := h.alipay.truths[req]
	if p.arrives.IsZero() {
		return
	}
	mono := func(t time.Time) time.Duration { return t.Sub(h.clock.trueStart) }
	h.at(mono(p.arrives), "alipay: order arrives", func() {
		h.trace.add("alipay: %s: the register's pay call arrives, PROCESSING (cancel window ends %s)",
			req, simWindowEnd(p.arrives).Format("01-02 15:04 UTC+8"))
	})
	h.at(mono(p.settles), "alipay: settles", func() {
		switch st := p.status(h.clock.True()); st {
		case "SUCCESS":
			h.trace.add("alipay: %s: the customer pays %s", req, p.order)
		case "FAIL":
			h.trace.add("alipay: %s: the payment fails %s", req, p.failure)
		}
	})
}
