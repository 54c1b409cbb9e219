package queue

import (
	"bytes"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Get returns payment req, or ErrNotFound, with the steps held for it in
// memory (Hold) applied.
func (s *Store) Get(req string) (Payment, error) {
	var p Payment
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		p, err = loadRecord(tx, req)
		return err
	})
	if err == nil && !p.State.Final() {
		if h := s.heldFor(req); h != nil {
			p.Audit = append([]Event(nil), p.Audit...)
			s.merge(&p, h)
		}
	}
	return p, err
}

// Due returns up to limit payments (all when limit <= 0) whose next action
// time is at or before now, earliest first. It reads the due index, so its
// cost grows with the number returned, not with the number stored.
func (s *Store) Due(now time.Time, limit int) ([]Payment, error) {
	end := timeKey(now, "")
	var out []Payment
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDue).Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], end) <= 0; k, _ = c.Next() {
			if limit > 0 && len(out) == limit {
				break
			}
			p, err := indexed(tx, k)
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// Next returns the earliest next action time of all payments, and false
// when no payment has one (all are final).
func (s *Store) Next() (time.Time, bool, error) {
	var (
		at time.Time
		ok bool
	)
	err := s.view(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketDue).Cursor().First(); k != nil {
			at, _, ok = splitTimeKey(k)
		}
		return nil
	})
	return at, ok, err
}

// Outbox returns the final payments whose result the register has not
// confirmed, in the order they became final.
func (s *Store) Outbox() ([]Payment, error) { return s.scanIndex(bucketOutbox) }

// Unfinished returns every payment that is not final, earliest next action
// first; the agent resumes them at start.
func (s *Store) Unfinished() ([]Payment, error) { return s.scanIndex(bucketDue) }

// FollowUps returns the payments flagged for manual follow-up.
func (s *Store) FollowUps() ([]Payment, error) {
	var out []Payment
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFollowUp).ForEach(func(k, _ []byte) error {
			p, err := loadRecord(tx, string(k))
			out = append(out, p)
			return err
		})
	})
	return out, err
}

// scanIndex returns the payments of a time-keyed index in its order.
func (s *Store) scanIndex(name []byte) ([]Payment, error) {
	var out []Payment
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(name).ForEach(func(k, _ []byte) error {
			p, err := indexed(tx, k)
			out = append(out, p)
			return err
		})
	})
	return out, err
}

// indexed loads the payment a time-keyed index key points at.
func indexed(tx *bolt.Tx, k []byte) (Payment, error) {
	_, req, _ := splitTimeKey(k)
	return loadRecord(tx, req)
}

// Filter selects payments for List. Its zero value selects all.
type Filter struct {
	States   []State   // any of these states; empty: any state
	Since    time.Time // accepted at or after; zero: any time
	FollowUp bool      // only payments flagged for follow-up
	Limit    int       // at most this many, the most recently accepted; <= 0: all
}

func (f *Filter) match(p *Payment) bool {
	if f.FollowUp && p.FollowUp == "" {
		return false
	}
	if !f.Since.IsZero() && p.AcceptedAt.Before(f.Since) {
		return false
	}
	if len(f.States) == 0 {
		return true
	}
	for _, s := range f.States {
		if p.State == s {
			return true
		}
	}
	return false
}

// List returns the payments f selects, the most recently accepted first.
// It reads every record; it is meant for `posagent queue list`, not for
// the agent's loop.
func (s *Store) List(f Filter) ([]Payment, error) {
	var out []Payment
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPayments).ForEach(func(k, v []byte) error {
			p, err := decodeIn(tx, k, v)
			if err != nil {
				return err
			}
			if f.match(&p) {
				out = append(out, p)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sortByAccepted(out)
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// Stats counts payments for metrics.
type Stats struct {
	Pending     int // PENDING
	Cancelling  int // CANCELLING
	Undelivered int // final, waiting for DONE (the outbox)
	Delivered   int // final and confirmed, kept for audit until pruned
	FollowUp    int // flagged for manual follow-up
}

// Stats counts payments from the indexes: the outbox, delivered and
// follow-up counts cost a walk over index keys only; telling PENDING from
// CANCELLING reads the records of the unfinished payments, which are few.
func (s *Store) Stats() (Stats, error) {
	var st Stats
	err := s.view(func(tx *bolt.Tx) error {
		st.Undelivered = tx.Bucket(bucketOutbox).Stats().KeyN
		st.Delivered = tx.Bucket(bucketDelivered).Stats().KeyN
		st.FollowUp = tx.Bucket(bucketFollowUp).Stats().KeyN
		return tx.Bucket(bucketDue).ForEach(func(k, _ []byte) error {
			p, err := indexed(tx, k)
			if err != nil {
				return err
			}
			if p.State == Cancelling {
				st.Cancelling++
			} else {
				st.Pending++
			}
			return nil
		})
	})
	return st, err
}

// sortByAccepted orders ps most recently accepted first.
func sortByAccepted(ps []Payment) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].AcceptedAt.After(ps[j].AcceptedAt) })
}
