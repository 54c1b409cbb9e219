package agent

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/queue"
)

// PAYs that wait together behind the one the loop takes are stored in one
// commit and answered in the order they came; the first other event ends
// the run and is handled after them.
func TestPaysThatArriveTogetherShareOneCommit(t *testing.T) {
	pays := func(reqs ...string) []device.Event {
		var evs []device.Event
		for _, req := range reqs {
			evs = append(evs, device.Received{Msg: device.Pay{Req: req, Amount: 100, Currency: "USD"}})
		}
		return evs
	}
	// run takes evs as the loop would, the first from the channel, the rest
	// waiting behind it, and returns what the agent posted and the commits
	// the store made from its open to its close.
	run := func(t *testing.T, evs []device.Event) ([]string, int) {
		now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		path := filepath.Join(t.TempDir(), "payments.db")
		s, err := queue.Open(path, queue.Options{Now: func() time.Time { return now }, Quick: true})
		if err != nil {
			t.Fatal(err)
		}
		var posted []device.Message
		a := New(s, simNoAlipay{}, simNoRegister{posted: &posted}, Options{Interval: simInterval, CancelAfter: simCancelAfter,
			MaxRPS: simMaxRPS, Workers: simWorkers, Now: func() time.Time { return now }})
		if err := a.resume(); err != nil {
			t.Fatal(err)
		}
		events := make(chan device.Event, len(evs))
		for _, ev := range evs[1:] {
			events <- ev
		}
		a.take(evs[0], events)
		for len(events) > 0 {
			a.take(<-events, events)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var commits int
		db.View(func(tx *bolt.Tx) error { commits = tx.ID(); return nil })
		var said []string
		for _, m := range posted {
			if st, ok := m.(device.Status); ok {
				said = append(said, st.Req+" "+st.State)
			}
		}
		return said, commits
	}

	_, one := run(t, pays("p1"))
	said, three := run(t, pays("p1", "p2", "p3"))
	if three != one {
		t.Errorf("three PAYs together took %d commits, one PAY %d; want as many", three, one)
	}
	if want := "[p1 ACCEPTED p2 ACCEPTED p3 ACCEPTED]"; fmt.Sprint(said) != want {
		t.Errorf("answers %v, want %s", said, want)
	}

	// A CANCEL ends the run: it is handled after the PAYs before it, and
	// the PAY after it is stored by a commit of its own.
	evs := append(pays("p1", "p2"), device.Received{Msg: device.Cancel{Req: "p1"}})
	said, withCancel := run(t, append(evs, pays("p3")...))
	if want := "[p1 ACCEPTED p2 ACCEPTED p1 CANCELLING p3 ACCEPTED]"; fmt.Sprint(said) != want {
		t.Errorf("answers %v, want %s", said, want)
	}
	if withCancel != one+2 {
		t.Errorf("%d commits with the CANCEL between the PAYs, want %d: the batch, the cancel, the last PAY", withCancel, one+2)
	}
}
