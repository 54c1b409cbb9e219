package queue

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A held step is a decision kept in memory instead of committed: one that
// only moves the payment's next action, adds to its audit trail and, at
// most, replaces its Track with what the caller judged safe to lose (the
// caller alone gives Track meaning; docs/design.md, "What is durable
// when"). Losing it in a crash only repeats a call that was already safe
// to make. Held steps are merged, in order and before anything else, into
// the next change of the payment that is committed (Apply, StartCancel,
// Deliver, Flag, Flush), and into what Get returns; Close commits every
// one that is left. Nothing else sees them: List, Due, Unfinished,
// Outbox, Stats and every reader of the file read what is committed.

// held is what the held steps of one payment add up to. A held value in
// Store.held is never changed: Hold puts a new one in its place, so that
// Get, which other goroutines call (the status endpoint), may read one it
// took under Store.hmu after letting go of the lock.
type held struct {
	track  *Track    // the Track to write; nil: the committed one stands
	next   time.Time // the next action
	events []Event   // the newest held audit events, at most auditLimit
	// dropped counts the held events beyond auditLimit, of which
	// inquiries and cancels were calls; lastError is the newest error of
	// any held event.
	dropped, inquiries, cancels int
	lastError                   string
}

// add folds st into h.
func (h *held) add(st *Step, limit int) {
	if st.Track != nil {
		t := *st.Track
		h.track = &t
	}
	h.next = st.Next
	if e := st.Event; e.Call != "" {
		h.events = append(h.events, e)
		if e.Error != "" {
			h.lastError = e.Error
		}
		if over := len(h.events) - limit; over > 0 {
			for _, d := range h.events[:over] {
				switch d.Call {
				case CallInquiry:
					h.inquiries++
				case CallCancel:
					h.cancels++
				}
			}
			h.events = append([]Event(nil), h.events[over:]...)
			h.dropped += over
		}
	}
}

// merge adds h to p, as if each held step had been applied in turn.
func (s *Store) merge(p *Payment, h *held) {
	if h == nil {
		return
	}
	for _, e := range h.events {
		s.audit(p, e)
	}
	p.Inquiries += h.inquiries
	p.Cancels += h.cancels
	p.AuditDropped += h.dropped
	if h.lastError != "" {
		p.LastError = h.lastError
	}
	if h.track != nil {
		p.Track = *h.track
	}
	p.NextAt = h.next
}

// heldFor returns the held steps of req, or nil.
func (s *Store) heldFor(req string) *held {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	return s.held[req]
}

// dropHeld forgets the held steps h of req once they are committed,
// unless more were held meanwhile.
func (s *Store) dropHeld(req string, h *held) {
	if h == nil {
		return
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if s.held[req] == h {
		delete(s.held, req)
	}
}

// Hold keeps step st for the unfinished payment req in memory, to be
// committed with the payment's next committed change, and returns the
// payment as Get will then return it. Only a step that moves the next
// action, adds an event and replaces the Track may be held: one with a
// Result, a Cancel, a FollowUp the payment does not have yet, or a
// Checked on a payment salvage brought back gives ErrInvalid, and such a
// step must be committed with Apply. On a final payment Hold changes
// nothing and returns ErrFinal.
//
// Hold writes nothing, so it works while the store cannot commit; the
// caller must hold only what is safe to lose in a crash.
func (s *Store) Hold(req string, st Step) (Payment, error) {
	if st.Result != nil || st.Cancel != "" {
		return Payment{}, fmt.Errorf("payment %q: a step that finishes or cancels must be committed: %w", req, ErrInvalid)
	}
	p, err := s.Get(req)
	switch {
	case err != nil:
		return Payment{}, err
	case p.State.Final():
		return p, fmt.Errorf("payment %q is %s: %w", req, p.State, ErrFinal)
	case st.FollowUp != "" && !hasNote(p.FollowUp, st.FollowUp):
		return Payment{}, fmt.Errorf("payment %q: a new follow-up flag must be committed: %w", req, ErrInvalid)
	case st.Checked && p.Recovered:
		return Payment{}, fmt.Errorf("payment %q: lifting the salvage mark must be committed: %w", req, ErrInvalid)
	}
	if st.Event.Call != "" && st.Event.Time.IsZero() {
		st.Event.Time = s.now()
	}
	st.Next = s.orNow(st.Next)
	s.hmu.Lock()
	h := &held{}
	if old := s.held[req]; old != nil {
		*h = *old
		h.events = append([]Event(nil), old.events...)
	}
	h.add(&st, s.auditLimit)
	s.held[req] = h
	s.hmu.Unlock()
	// What Get returns: the step on top of what it returned before.
	one := &held{}
	one.add(&st, s.auditLimit)
	s.merge(&p, one)
	normalize(&p)
	return p, nil
}

// Flush commits the held steps of payment req, if any, in one
// transaction.
func (s *Store) Flush(req string) error {
	if s.heldFor(req) == nil {
		return nil
	}
	_, err := s.change(req, func(*Payment) (bool, error) { return true, nil })
	return err
}

// Holding reports how many payments have held steps.
func (s *Store) Holding() int {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	return len(s.held)
}

// flushAll commits the held steps of every payment in tx, and returns what
// it committed, for the caller to forget once tx is committed.
func (s *Store) flushAll(tx *bolt.Tx) (map[string]*held, error) {
	s.hmu.Lock()
	all := make(map[string]*held, len(s.held))
	for req, h := range s.held {
		all[req] = h
	}
	s.hmu.Unlock()
	for req, h := range all {
		old, err := loadRecord(tx, req)
		if err != nil {
			delete(all, req) // gone or unreadable: nothing to add to
			continue
		}
		if old.State.Final() {
			continue // committed final meanwhile; the held steps are stale
		}
		p := old
		p.Audit = append([]Event(nil), old.Audit...)
		s.merge(&p, h)
		if err := writeRecord(tx, &old, &p); err != nil {
			return nil, err
		}
	}
	return all, nil
}
