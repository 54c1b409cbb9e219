package queue

import (
	"errors"
	"os"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// txID is the id of the store's last commit.
func txID(t *testing.T, s *Store) int {
	t.Helper()
	var id int
	if err := s.view(func(tx *bolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestAcceptAllStoresTheNewPaymentsInOneCommit(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	mustAccept(t, s, newPayment(c, "known"))
	other := newPayment(c, "a")
	other.Amount++
	batch := []Payment{
		newPayment(c, "a"),
		newPayment(c, "known"), // a repeat of a stored payment
		newPayment(c, "b"),
		newPayment(c, "a"), // a repeat within the batch
		other,              // a conflict within the batch
		{RequestID: "", Amount: 1, Currency: "USD"},
	}
	want := []struct {
		created bool
		err     error
	}{
		{true, nil}, {false, nil}, {true, nil}, {false, nil}, {false, ErrConflict}, {false, ErrInvalid},
	}
	before := txID(t, s)
	got := s.AcceptAll(batch, nil)
	if n := txID(t, s) - before; n != 1 {
		t.Errorf("%d commits for the batch, want 1", n)
	}
	for i, w := range want {
		g := got[i]
		if g.Created != w.created || !errors.Is(g.Err, w.err) || (w.err == nil) != (g.Err == nil) {
			t.Errorf("payment %d (%q): created %v, error %v; want created %v, error %v", i, batch[i].RequestID, g.Created, g.Err, w.created, w.err)
		}
		if g.Err == nil && g.Payment.RequestID != batch[i].RequestID {
			t.Errorf("payment %d: returned %q, want %q", i, g.Payment.RequestID, batch[i].RequestID)
		}
	}
	for _, req := range []string{"a", "b", "known"} {
		if p, err := s.Get(req); err != nil || p.State != Pending {
			t.Errorf("%s: %+v, %v; want it stored PENDING", req, p.State, err)
		}
	}
	// A batch of repeats only commits nothing.
	before = txID(t, s)
	for i, a := range s.AcceptAll([]Payment{newPayment(c, "a"), newPayment(c, "b")}, nil) {
		if a.Created || a.Err != nil {
			t.Errorf("repeat %d: created %v, error %v", i, a.Created, a.Err)
		}
	}
	if n := txID(t, s) - before; n != 0 {
		t.Errorf("%d commits for repeats only, want 0", n)
	}
	mustCheck(t, s)
}

func TestAcceptAllFailsEveryNewPaymentWhenTheCommitFails(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	mustAccept(t, s, newPayment(c, "known"))
	// Moved away, the file still reads but takes no commit (ErrDetached).
	if err := os.Rename(s.Path(), s.Path()+".moved"); err != nil {
		t.Fatal(err)
	}
	got := s.AcceptAll([]Payment{newPayment(c, "a"), newPayment(c, "known"), newPayment(c, "b"), newPayment(c, "a")}, nil)
	for i, a := range got {
		repeat := i == 1
		if repeat {
			if a.Err != nil || a.Created {
				t.Errorf("the stored payment: created %v, error %v; want it answered from the store", a.Created, a.Err)
			}
			continue
		}
		if !errors.Is(a.Err, ErrDetached) || a.Created {
			t.Errorf("payment %d: created %v, error %v; want the commit's error", i, a.Created, a.Err)
		}
	}
}

func TestAcceptAllAsksAdmitBeforeStoringNewPayments(t *testing.T) {
	c := newClock()
	s := openTest(t, c)
	mustAccept(t, s, newPayment(c, "known"))
	batch := []Payment{newPayment(c, "a"), newPayment(c, "known"), newPayment(c, "b"), newPayment(c, "a")}
	full := errors.New("no room")
	var asked []int
	refuse := func(n int) error { asked = append(asked, n); return full }

	before := txID(t, s)
	got := s.AcceptAll(batch, refuse)
	if len(asked) != 1 || asked[0] != 2 {
		t.Errorf("admit asked %v, want once for 2 new request ids", asked)
	}
	if n := txID(t, s) - before; n != 0 {
		t.Errorf("%d commits after admit refused, want 0", n)
	}
	for i, a := range got {
		if i == 1 {
			if a.Err != nil || a.Created || a.Payment.RequestID != "known" {
				t.Errorf("the stored payment: %q, created %v, error %v; want it answered from the store", a.Payment.RequestID, a.Created, a.Err)
			}
			continue
		}
		if a.Err != full || a.Created {
			t.Errorf("payment %d: created %v, error %v; want admit's error as it is", i, a.Created, a.Err)
		}
	}
	for _, req := range []string{"a", "b"} {
		if _, err := s.Get(req); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v; want it not stored", req, err)
		}
	}

	// Admitted, they are stored; repeats only do not ask.
	asked = nil
	admit := func(n int) error { asked = append(asked, n); return nil }
	for i, a := range s.AcceptAll(batch, admit) {
		if a.Err != nil || a.Created != (i == 0 || i == 2) {
			t.Errorf("payment %d: created %v, error %v", i, a.Created, a.Err)
		}
	}
	s.AcceptAll(batch, admit)
	if len(asked) != 1 || asked[0] != 2 {
		t.Errorf("admit asked %v, want once for 2 new request ids, then not for repeats", asked)
	}
	mustCheck(t, s)
}
