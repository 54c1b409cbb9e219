package queue

import (
	"bufio"
	"bytes"
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
// loop until it is killed. After each call returns it writes a line to
// standard output: "A id" after Accept, "F id STATE" after Finish, "D id"
// after Deliver. Lines go out unbuffered, so the parent knows that every
// line it read stands for a call that returned.
func crashChild(path, run string) int {
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	finals := []State{Success, Fail, Cancelled}
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s-%06d", run, i)
		now := time.Now()
		p := Payment{RequestID: id, Amount: int64(100 + i), Currency: "USD", Lane: "1", AcceptedAt: now, Deadline: now.Add(time.Minute)}
		if _, _, err := s.Accept(p); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("A %s\n", id)
		if i%4 == 0 {
			continue // left PENDING
		}
		for range 3 {
			e := Event{Call: CallInquiry, ResultStatus: "S", PaymentStatus: "PROCESSING", Note: strings.Repeat("x", 40)}
			if err := s.Record(id, e, time.Now().Add(3*time.Second)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		if i%4 == 1 {
			if err := s.StartCancel(id, "TIMEOUT", time.Time{}); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			continue // left CANCELLING
		}
		st := finals[i%len(finals)]
		r := Result{Status: st, PaymentID: "pid-" + id, Code: "CODE", Message: "done", Time: now.UTC().Format(time.RFC3339)}
		if _, err := s.Finish(id, r, Event{Call: CallInquiry, ResultStatus: "S", PaymentStatus: string(st)}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("F %s %s\n", id, st)
		if i%4 == 3 {
			if err := s.Deliver(id, time.Time{}); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fmt.Printf("D %s\n", id)
		}
		if i%16 == 15 {
			// Prune everything delivered, so deletes and freed pages
			// are part of what a kill can interrupt.
			if _, err := s.Prune(time.Now().Add(time.Hour), 0); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
	}
}

// TestCrashLosesNothingThatWasAccepted kills a writing child process at
// random moments and checks after each kill that the file is intact and
// holds every payment whose Accept had returned, in the state its last
// returned transition left it.
func TestCrashLosesNothingThatWasAccepted(t *testing.T) {
	const kills = 50
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "posagent.db")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	accepted := map[string]bool{}
	final := map[string]State{}
	delivered := map[string]bool{}
	for k := range kills {
		lines := runAndKill(t, exe, path, fmt.Sprintf("r%02d", k), time.Duration(20+rng.IntN(131))*time.Millisecond)
		for _, l := range lines {
			f := strings.Fields(l)
			switch {
			case len(f) == 2 && f[0] == "A":
				accepted[f[1]] = true
			case len(f) == 3 && f[0] == "F":
				final[f[1]] = State(f[2])
			case len(f) == 2 && f[0] == "D":
				delivered[f[1]] = true
			default:
				t.Fatalf("kill %d: child wrote %q", k, l)
			}
		}
		verifyAfterCrash(t, path, k, accepted, final, delivered)
	}
	t.Logf("%d kills, %d payments accepted, %d finished, %d delivered", kills, len(accepted), len(final), len(delivered))
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
// it against what the children reported.
func verifyAfterCrash(t *testing.T, path string, k int, accepted map[string]bool, final map[string]State, delivered map[string]bool) {
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
	if _, err := s.List(Filter{}); err != nil { // decodes every record in full
		t.Fatalf("kill %d: %v", k, err)
	}
	for id := range accepted {
		p, err := s.Get(id)
		if err != nil {
			if delivered[id] {
				continue // pruned
			}
			t.Fatalf("kill %d: accepted payment %s: %v", k, id, err)
		}
		if want, ok := final[id]; ok && p.State != want {
			t.Fatalf("kill %d: payment %s is %s after Finish(%s) returned", k, id, p.State, want)
		}
		if delivered[id] && !p.Delivered() {
			t.Fatalf("kill %d: payment %s lost its delivery", k, id)
		}
	}
}
