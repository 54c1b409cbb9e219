package agent

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/queue"
)

// postedLink is a Link that keeps what the agent posts, with the calls to
// make once the register has acknowledged each message, for the test to make.
type postedLink struct {
	msgs  []device.Message
	acked []func()
}

func (*postedLink) Run(context.Context) error   { panic("the test drives the loop itself") }
func (*postedLink) Events() <-chan device.Event { return nil }
func (l *postedLink) Post(m device.Message, acked func()) error {
	l.msgs = append(l.msgs, m)
	l.acked = append(l.acked, acked)
	return nil
}

// TestFirstCallWaitsForTheStatusToBeAcknowledged drives the loop's steps by
// hand: a new payment's first Alipay call starts only once the register has
// acknowledged its STATUS ACCEPTED, or, for a STATUS never acknowledged,
// after firstCallWait on the monotonic clock.
func TestFirstCallWaitsForTheStatusToBeAcknowledged(t *testing.T) {
	now := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
	s, err := queue.Open(filepath.Join(t.TempDir(), "posagent.db"), queue.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mono time.Duration
	link := &postedLink{}
	a := New(s, simNoAlipay{}, link, Options{Interval: simInterval, CancelAfter: simCancelAfter, MaxRPS: simMaxRPS,
		Now: func() time.Time { return now }, Mono: func() time.Duration { return mono }, Workers: simWorkers})
	calls := func() (reqs []string) {
		for len(a.jobs) > 0 {
			reqs = append(reqs, (<-a.jobs).ref.PaymentRequestID)
		}
		return reqs
	}
	pay := func(req string) {
		t.Helper()
		a.handle(fromDevice(device.Received{Msg: device.Pay{Req: req, Amount: 500, Currency: "USD"}}))
		if st, ok := link.msgs[len(link.msgs)-1].(device.Status); !ok || st.Req != req || st.State != device.StateAccepted {
			t.Fatalf("posted %#v, want STATUS ACCEPTED for %s", link.msgs[len(link.msgs)-1], req)
		}
		if link.acked[len(link.acked)-1] == nil {
			t.Fatalf("the STATUS for %s was posted without a call for its ACK", req)
		}
	}

	pay("p1")
	if wake := a.tick(now); wake != firstCallWait {
		t.Fatalf("loop sleeps %v, want %v (p1's first call held)", wake, firstCallWait)
	}
	if got := calls(); len(got) != 0 {
		t.Fatalf("calls %v started before the STATUS was acknowledged", got)
	}
	link.acked[0]() // the register acknowledged it: the line tells the loop
	a.statusAcked(<-a.statusAcks)
	a.tick(now)
	if got := calls(); len(got) != 1 || got[0] != "p1" {
		t.Fatalf("calls %v, want p1's first", got)
	}

	// A STATUS never acknowledged holds the call for firstCallWait only.
	mono += time.Millisecond
	pay("p2")
	a.tick(now)
	if got := calls(); len(got) != 0 {
		t.Fatalf("calls %v started before the STATUS was acknowledged", got)
	}
	mono += firstCallWait
	a.tick(now)
	if got := calls(); len(got) != 1 || got[0] != "p2" {
		t.Fatalf("calls %v, want p2's first after %v", got, firstCallWait)
	}

	// A repeated PAY is answered with no hold: its payment is planned
	// already.
	a.handle(fromDevice(device.Received{Msg: device.Pay{Req: "p1", Amount: 500, Currency: "USD"}}))
	if link.acked[len(link.acked)-1] != nil {
		t.Fatal("a repeated PAY held its payment's next call")
	}
}
