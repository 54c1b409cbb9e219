package queue

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// crashChild accepts payments and moves them through their states in a
// loop until it is killed. Around each call it writes two lines to standard
// output: "begin OP" just before the call and "done OP" once it returned,
// where OP is "A id" (Accept), "R id" (Record), "C id" (StartCancel),
// "F id STATE" (Finish), "D id" (Deliver) or "P" (Prune). Lines go out
// unbuffered, so the parent knows that every "done" line it read stands
// for a call that returned, and that at most the one call after the last
// "begin" was in flight when the kill came: its commit may or may not
// have landed.
func crashChild(path, run string) int {
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	call := func(op string, fn func() error) bool {
		fmt.Printf("begin %s\n", op)
		if err := fn(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return false
		}
		fmt.Printf("done %s\n", op)
		return true
	}
	finals := []State{Success, Fail, Cancelled}
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s-%06d", run, i)
		now := time.Now()
		p := Payment{RequestID: id, Amount: int64(100 + i), Currency: "USD", Lane: "1", AcceptedAt: now, Deadline: now.Add(time.Minute)}
		if !call("A "+id, func() error { _, _, err := s.Accept(p); return err }) {
			return 1
		}
		if i%4 == 0 {
			continue // left PENDING
		}
		for range 3 {
			e := Event{Call: CallInquiry, ResultStatus: "S", PaymentStatus: "PROCESSING", Note: strings.Repeat("x", 40)}
			if !call("R "+id, func() error { return s.Record(id, e, time.Now().Add(3*time.Second)) }) {
				return 1
			}
		}
		if i%4 == 1 {
			if !call("C "+id, func() error { return s.StartCancel(id, "TIMEOUT", time.Time{}) }) {
				return 1
			}
			continue // left CANCELLING
		}
		st := finals[i%len(finals)]
		r := Result{Status: st, PaymentID: "pid-" + id, Code: "CODE", Message: "done", Time: now.UTC().Format(time.RFC3339)}
		e := Event{Call: CallInquiry, ResultStatus: "S", PaymentStatus: string(st)}
		if !call(fmt.Sprintf("F %s %s", id, st), func() error { _, err := s.Finish(id, r, e); return err }) {
			return 1
		}
		if i%4 == 3 {
			if !call("D "+id, func() error { return s.Deliver(id, time.Time{}) }) {
				return 1
			}
		}
		if i%16 == 15 {
			// Prune everything delivered, so deletes and freed pages
			// are part of what a kill can interrupt.
			if !call("P", func() error { _, err := s.Prune(time.Now().Add(time.Hour), 0); return err }) {
				return 1
			}
		}
	}
}

// crashModel is what the store must hold after a kill, built from the
// lines of the children: each payment with the state its last returned
// call left it in, and whether its delivery was recorded.
type crashModel struct {
	state     map[string]State
	delivered map[string]bool
	finals    int
}

// crashOp is one call of a crash child, parsed from a line.
type crashOp struct {
	kind  string // A, R, C, F, D or P
	id    string // "" for P
	final State  // for F
}

// parseCrashOp reads the OP of a "begin OP" or "done OP" line.
func parseCrashOp(op string) (crashOp, bool) {
	f := strings.Fields(op)
	switch {
	case len(f) == 1 && f[0] == "P":
		return crashOp{kind: "P"}, true
	case len(f) == 2 && strings.Contains("ARCD", f[0]) && len(f[0]) == 1:
		return crashOp{kind: f[0], id: f[1]}, true
	case len(f) == 3 && f[0] == "F" && State(f[2]).Final():
		return crashOp{kind: "F", id: f[1], final: State(f[2])}, true
	}
	return crashOp{}, false
}

// apply takes the effect of a call that returned into the model.
func (m *crashModel) apply(op crashOp) {
	switch op.kind {
	case "A":
		m.state[op.id] = Pending
	case "C":
		m.state[op.id] = Cancelling
	case "F":
		m.state[op.id] = op.final
		m.finals++
	case "D":
		m.delivered[op.id] = true
	}
	// R changes only the trail and the next time; P removes delivered
	// payments, which the model allows to be gone at any time.
}

// read takes the lines of one child into the model and returns the call
// that was in flight at the kill, if any.
func (m *crashModel) read(lines []string) (inFlight *crashOp, err error) {
	for _, l := range lines {
		word, rest, _ := strings.Cut(l, " ")
		op, ok := parseCrashOp(rest)
		switch {
		case !ok:
			return nil, fmt.Errorf("child wrote %q", l)
		case word == "begin" && inFlight == nil:
			inFlight = &op
		case word == "done" && inFlight != nil && *inFlight == op:
			m.apply(op)
			inFlight = nil
		default:
			return nil, fmt.Errorf("child wrote %q out of turn (call in flight: %v)", l, inFlight)
		}
	}
	return inFlight, nil
}

// settle decides the call that was in flight at the kill from what the store
// holds: either its commit landed and it is taken into the model, or it did
// not and the store must show the state before it. Nothing else has run
// since the kill, so the store tells exactly.
func (m *crashModel) settle(s *Store, op crashOp) error {
	if op.kind == "R" || op.kind == "P" {
		return nil // no state of the model to decide
	}
	p, err := s.Get(op.id)
	switch {
	case op.kind == "A" && errors.Is(err, ErrNotFound):
		return nil // not committed
	case err != nil:
		return fmt.Errorf("payment %s, in flight at the kill: %w", op.id, err)
	}
	landed := false
	switch op.kind {
	case "A":
		landed = p.State == Pending
	case "C":
		landed = p.State == Cancelling
	case "F":
		landed = p.State == op.final
	case "D":
		landed = p.Delivered()
	}
	if landed {
		m.apply(op)
		return nil
	}
	if p.State != m.state[op.id] || p.Delivered() != m.delivered[op.id] {
		return fmt.Errorf("payment %s is %s (delivered %v) after a kill during %s %s: neither what the call would leave nor what was there before",
			op.id, p.State, p.Delivered(), op.kind, op.id)
	}
	return nil
}

// TestCrashLosesNothingThatWasAccepted kills a writing child process at
// random moments and checks after each kill that the file is intact and
// holds every payment whose Accept had returned, in the state its last
// returned transition left it. The one call in flight at the kill may have
// committed or not; either is allowed, and whichever the store shows
// counts from then on.
func TestCrashLosesNothingThatWasAccepted(t *testing.T) {
	t.Parallel()
	const kills = 50
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "posagent.db")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	m := &crashModel{state: map[string]State{}, delivered: map[string]bool{}}
	inFlight := map[string]int{}
	for k := range kills {
		lines := runAndKill(t, exe, path, fmt.Sprintf("r%02d", k), time.Duration(20+rng.IntN(131))*time.Millisecond)
		op, err := m.read(lines)
		if err != nil {
			t.Fatalf("kill %d: %v", k, err)
		}
		if op != nil {
			inFlight[op.kind]++
		}
		verifyAfterCrash(t, path, k, m, op)
	}
	t.Logf("%d kills, %d payments accepted, %d finished, %d delivered; calls in flight at the kill: %v",
		kills, len(m.state), m.finals, len(m.delivered), inFlight)
}

// runAndKill starts a crash child, waits for its first line, kills it
// with SIGKILL after delay and returns every line it wrote.
func runAndKill(t *testing.T, exe, path, run string, delay time.Duration) []string {
	t.Helper()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"=crash", childPathEnv+"="+path, childRunEnv+"="+run)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan struct{})
	done := make(chan []string)
	go func() {
		var lines []string
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if lines = append(lines, sc.Text()); len(lines) == 1 {
				close(first)
			}
		}
		done <- lines
	}()
	select {
	case <-first:
	case lines := <-done:
		cmd.Wait()
		t.Fatalf("child %s ended before writing a line (%d lines): %s", run, len(lines), stderr.String())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("child %s wrote nothing in 30 s: %s", run, stderr.String())
	}
	<-time.After(delay) // the random moment of the kill
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	lines := <-done
	cmd.Wait()
	if stderr.Len() > 0 {
		t.Fatalf("child %s failed: %s", run, stderr.String())
	}
	return lines
}

// verifyAfterCrash opens the file as the agent would at start and checks
// it against the model: every payment it knows is there in its state, save
// delivered ones, which a Prune may have removed; the store holds no
// payment the children did not accept.
func verifyAfterCrash(t *testing.T, path string, k int, m *crashModel, inFlight *crashOp) {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("kill %d: open: %v", k, err)
	}
	defer s.Close()
	if r := s.Report(); r != nil {
		t.Fatalf("kill %d: the file needed salvage: %s", k, r)
	}
	if err := s.Check(); err != nil {
		t.Fatalf("kill %d: %v", k, err)
	}
	if inFlight != nil {
		if err := m.settle(s, *inFlight); err != nil {
			t.Fatalf("kill %d: %v", k, err)
		}
	}
	all, err := s.List(Filter{}) // decodes every record in full
	if err != nil {
		t.Fatalf("kill %d: %v", k, err)
	}
	for _, p := range all {
		if _, ok := m.state[p.RequestID]; !ok {
			t.Fatalf("kill %d: the store holds payment %s, which no Accept returned", k, p.RequestID)
		}
	}
	for id, want := range m.state {
		p, err := s.Get(id)
		if err != nil {
			if m.delivered[id] {
				continue // pruned
			}
			t.Fatalf("kill %d: accepted payment %s: %v", k, id, err)
		}
		if p.State != want {
			t.Fatalf("kill %d: payment %s is %s, but the last call that returned left it %s", k, id, p.State, want)
		}
		if m.delivered[id] && !p.Delivered() {
			t.Fatalf("kill %d: payment %s lost its delivery", k, id)
		}
	}
}
