package queue

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
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

// Filter selects payments for List, Each and Page. Its zero value selects
// all, the most recently accepted first.
type Filter struct {
	States   []State   // any of these states; empty: any state
	Since    time.Time // accepted at or after; zero: any time
	FollowUp bool      // only payments flagged for follow-up
	Limit    int       // at most this many; <= 0: all
	// Oldest lists the earliest accepted first instead.
	Oldest bool
	// After continues a listing after this position in its order: the
	// Next of the page before. Zero: from the start.
	After Position
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

// Position is a payment's place in the order of acceptance: its
// acceptance time, then its request id. A listing resumes after one
// (Filter.After), so a page stays valid however many payments are
// accepted or pruned meanwhile.
type Position struct {
	AcceptedAt time.Time
	RequestID  string
}

// PositionOf is p's position.
func PositionOf(p *Payment) Position {
	return Position{AcceptedAt: p.AcceptedAt, RequestID: p.RequestID}
}

// IsZero reports whether pos is the zero Position, the start of a listing.
func (pos Position) IsZero() bool { return pos.RequestID == "" && pos.AcceptedAt.IsZero() }

// String is pos as ParsePosition reads it: the time in RFC 3339 with
// nanoseconds, UTC, a slash, the request id.
func (pos Position) String() string {
	return pos.AcceptedAt.UTC().Format(time.RFC3339Nano) + "/" + pos.RequestID
}

// ParsePosition reads a Position written by Position.String.
func ParsePosition(s string) (Position, error) {
	at, req, ok := strings.Cut(s, "/")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil || req == "" {
		return Position{}, fmt.Errorf("position %q is not an RFC 3339 time, a slash and a request id", s)
	}
	return Position{AcceptedAt: t.UTC(), RequestID: req}, nil
}

// key is pos as a key of the accepted index.
func (pos Position) key() []byte { return timeKey(pos.AcceptedAt, pos.RequestID) }

// Page is one page of a listing.
type Page struct {
	Payments []Payment
	// Next is where the following page starts (Filter.After); zero when
	// the listing has ended.
	Next Position
}

// MaxPage is the most payments one Page returns, and the most index keys
// its read transaction visits.
const MaxPage = 500

// Page returns the first payments f selects, at most f.Limit and at most
// MaxPage, and where the next page starts. It is one short read
// transaction that visits at most MaxPage keys of the accepted index, so a
// page of a filter that selects few payments may hold fewer than asked
// (even none) and still have a Next. Only the payments visited are
// decoded: the cost of a page does not grow with the number stored.
//
// A read-only store of a file from before schema 3, which has no accepted
// index, is read in full and sorted for every page.
func (s *Store) Page(f Filter) (Page, error) {
	var pg Page
	err := s.view(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketAccepted) == nil {
			var err error
			pg, err = pageUnindexed(tx, f, pageLimit(f))
			return err
		}
		var err error
		pg.Next, err = walkPage(tx, f, func(req string) (bool, error) {
			p, err := loadRecord(tx, req)
			if err != nil || !f.match(&p) {
				return false, err
			}
			pg.Payments = append(pg.Payments, p)
			return true, nil
		})
		return err
	})
	return pg, err
}

// JSONPage is a Page of payments as the JSON their records hold.
type JSONPage struct {
	Records [][]byte // the JSON of each Payment
	Next    Position
}

// PageJSON is Page giving each payment as the JSON of its record, checked
// against its checksum but decoded only when f selects by state or
// follow-up: what the status endpoint sends, at a fraction of the cost of
// decoding and encoding again.
func (s *Store) PageJSON(f Filter) (JSONPage, error) {
	var pg JSONPage
	err := s.view(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketAccepted) == nil || string(tx.Bucket(bucketMeta).Get(keySchema)) == "1" {
			full, err := pageUnindexed(tx, f, pageLimit(f))
			for i := range full.Payments {
				j, err := json.Marshal(&full.Payments[i])
				if err != nil {
					return err
				}
				pg.Records = append(pg.Records, j)
			}
			pg.Next = full.Next
			return err
		}
		payments := tx.Bucket(bucketPayments)
		decoding := len(f.States) > 0 || f.FollowUp
		var err error
		pg.Next, err = walkPage(tx, f, func(req string) (bool, error) {
			v := payments.Get([]byte(req))
			if v == nil {
				return false, fmt.Errorf("index %q names payment %q, which is not stored: %w", bucketAccepted, req, ErrCorrupt)
			}
			if decoding {
				p, err := decode([]byte(req), v)
				if err != nil || !f.match(&p) {
					return false, err
				}
			}
			j, err := unframe(v)
			if err != nil {
				return false, fmt.Errorf("record %q is damaged: %w", req, err)
			}
			pg.Records = append(pg.Records, bytes.Clone(j))
			return true, nil
		})
		return err
	})
	return pg, err
}

// pageLimit is how many payments a page of f holds at most.
func pageLimit(f Filter) int {
	if f.Limit <= 0 || f.Limit > MaxPage {
		return MaxPage
	}
	return f.Limit
}

// walkPage walks the accepted index in tx in f's order, from f.After, and
// passes the request id of each payment accepted since f.Since to take,
// which reports whether it took the payment for the page. It stops after
// pageLimit(f) taken or MaxPage visited, and returns the position of the
// last visited, or zero when the walk reached the end.
func walkPage(tx *bolt.Tx, f Filter, take func(req string) (bool, error)) (Position, error) {
	n, taken, last := pageLimit(f), 0, Position{}
	c := tx.Bucket(bucketAccepted).Cursor()
	k, step := firstKey(c, f)
	for visited := 0; k != nil; k, visited = step(), visited+1 {
		if visited == MaxPage || taken == n {
			return last, nil
		}
		at, req, ok := splitTimeKey(k)
		if !ok {
			return Position{}, fmt.Errorf("index %q holds key %q: %w", bucketAccepted, k, ErrCorrupt)
		}
		if !f.Oldest && at.Before(f.Since) {
			break // all the rest is older (oldest first starts at Since)
		}
		ok, err := take(req)
		if err != nil {
			return Position{}, err
		}
		if ok {
			taken++
		}
		last = Position{AcceptedAt: at, RequestID: req}
	}
	return Position{}, nil
}

// firstKey positions c at the first key of the accepted index f's listing
// visits and returns it with the function that steps to the next.
func firstKey(c *bolt.Cursor, f Filter) ([]byte, func() []byte) {
	next := func() []byte { k, _ := c.Next(); return k }
	prev := func() []byte { k, _ := c.Prev(); return k }
	if f.Oldest {
		from := timeKey(f.Since, "")
		if f.Since.IsZero() {
			from = nil
		}
		if !f.After.IsZero() && (from == nil || bytes.Compare(f.After.key(), from) >= 0) {
			k, _ := c.Seek(f.After.key())
			if k != nil && bytes.Equal(k, f.After.key()) {
				k = next()
			}
			return k, next
		}
		if from == nil {
			k, _ := c.First()
			return k, next
		}
		k, _ := c.Seek(from)
		return k, next
	}
	if f.After.IsZero() {
		k, _ := c.Last()
		return k, prev
	}
	// The last key before After: Seek finds the first at or after it.
	if k, _ := c.Seek(f.After.key()); k == nil {
		k, _ = c.Last()
		if k != nil && bytes.Compare(k, f.After.key()) >= 0 {
			k = prev()
		}
		return k, prev
	}
	return prev(), prev
}

// pageUnindexed is Page for a file without the accepted index: every
// record is read and sorted.
func pageUnindexed(tx *bolt.Tx, f Filter, n int) (Page, error) {
	var all []Payment
	err := tx.Bucket(bucketPayments).ForEach(func(k, v []byte) error {
		p, err := decodeIn(tx, k, v)
		if err != nil {
			return err
		}
		if f.match(&p) {
			all = append(all, p)
		}
		return nil
	})
	if err != nil {
		return Page{}, err
	}
	less := func(a, b *Payment) int {
		return bytes.Compare(timeKey(a.AcceptedAt, a.RequestID), timeKey(b.AcceptedAt, b.RequestID))
	}
	sort.Slice(all, func(i, j int) bool {
		c := less(&all[i], &all[j])
		if f.Oldest {
			return c < 0
		}
		return c > 0
	})
	if !f.After.IsZero() {
		after := Payment{AcceptedAt: f.After.AcceptedAt, RequestID: f.After.RequestID}
		i := sort.Search(len(all), func(i int) bool {
			c := less(&all[i], &after)
			if f.Oldest {
				return c > 0
			}
			return c < 0
		})
		all = all[i:]
	}
	var pg Page
	if len(all) > n {
		all = all[:n]
		pg.Next = PositionOf(&all[n-1])
	}
	pg.Payments = all
	return pg, nil
}

// Each calls fn with every payment f selects, in f's order, up to
// f.Limit, and stops at fn's first error, which it returns. It reads them
// a Page at a time, each page its own short read transaction, and calls
// fn between transactions: a slow fn (writing an export to a pipe) never
// holds a read transaction open, which would keep bbolt from reusing the
// pages commits free and make the file grow, and it holds at most one
// page in memory.
func (s *Store) Each(f Filter, fn func(*Payment) error) error {
	left := f.Limit
	for {
		if f.Limit > 0 {
			f.Limit = left
		}
		pg, err := s.Page(f)
		if err != nil {
			return err
		}
		for i := range pg.Payments {
			if err := fn(&pg.Payments[i]); err != nil {
				return err
			}
		}
		left -= len(pg.Payments)
		if pg.Next.IsZero() || f.Limit > 0 && left <= 0 {
			return nil
		}
		f.After = pg.Next
	}
}

// List returns the payments f selects, in f's order (the most recently
// accepted first by default). It reads them with Each, but holds them all:
// without a Limit it is meant for small stores and tests; `posagent
// queue` pages with Each.
func (s *Store) List(f Filter) ([]Payment, error) {
	var out []Payment
	err := s.Each(f, func(p *Payment) error {
		out = append(out, *p)
		return nil
	})
	if err != nil {
		return nil, err
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
