package queue

import (
	"bufio"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// Child processes: the test binary runs itself with childEnv set to a mode
// and childPathEnv to the store file, and TestMain runs that mode instead
// of the tests.
const (
	childEnv     = "QUEUE_TEST_CHILD"
	childPathEnv = "QUEUE_TEST_PATH"
	childRunEnv  = "QUEUE_TEST_RUN"
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "crash":
		os.Exit(crashChild(os.Getenv(childPathEnv), os.Getenv(childRunEnv)))
	case "hold":
		os.Exit(holdChild(os.Getenv(childPathEnv)))
	default:
		fmt.Fprintln(os.Stderr, "unknown child mode", os.Getenv(childEnv))
		os.Exit(2)
	}
}

// holdChild opens the store, says "ready" and keeps it open until its
// standard input closes.
func holdChild(path string) int {
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	return 0
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// openTest opens a store in a fresh folder with the clock c.
func openTest(t testing.TB, c *clock) *Store {
	t.Helper()
	s, err := Open(t.TempDir()+"/posagent.db", Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newPayment is a PAY for request id req at the clock's time.
func newPayment(c *clock, req string) Payment {
	now := c.Now()
	return Payment{RequestID: req, Amount: 500, Currency: "USD", Lane: "3", AcceptedAt: now, Deadline: now.Add(60 * time.Second)}
}

// mustAccept accepts a new payment or fails the test.
func mustAccept(t testing.TB, s *Store, p Payment) Payment {
	t.Helper()
	got, created, err := s.Accept(p)
	if err != nil || !created {
		t.Fatalf("Accept(%s) = created %v, %v; want a new payment", p.RequestID, created, err)
	}
	return got
}

// mustCheck runs the integrity check or fails the test.
func mustCheck(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
}
