package queue

import (
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The state machine, enforced by the methods below:
//
//	PENDING    -> CANCELLING (StartCancel) or a final state (Finish)
//	CANCELLING -> a final state (Finish)
//	final      -> nothing; later answers go to the audit trail only
//
// Each method is one bbolt transaction: it reads the record, changes it,
// writes it back and moves its index keys (writeRecord), or changes nothing.

// maxRequestID bounds the request id, the key of every bucket.
const maxRequestID = 256

// Accept stores a new payment and returns it with created true, or returns
// the stored payment unchanged with created false when p.RequestID is
// already known with the same amount, currency and payment id (a repeated
// PAY). A known request id with another amount or currency, or another
// payment id where both have one, gives ErrConflict and the stored payment.
//
// Only the identity fields of p are used: RequestID, PaymentID, Amount,
// Currency, Lane, AcceptedAt (zero: now) and Deadline. A new payment is
// PENDING and due at once (NextAt = AcceptedAt). Accept returns after the
// commit is on disk.
func (s *Store) Accept(p Payment) (Payment, bool, error) {
	a := s.AcceptAll([]Payment{p}, nil)[0]
	return a.Payment, a.Created, a.Err
}

// Accepted is what AcceptAll did with one payment, as Accept returns it.
type Accepted struct {
	Payment Payment
	Created bool
	Err     error
}

// AcceptAll is Accept for each of ps, in order, with every new payment
// among them stored in one commit: PAYs that arrive while a commit is on
// its way to disk are stored together by the next one, instead of each
// waiting for a sync of its own. Its results are in the order of ps. A
// commit that fails fails every new payment of ps with the same error and
// stores none of them; invalid, repeated and conflicting ones are answered
// as Accept answers them. A request id that comes twice in ps is stored
// once and answered as a repeat the second time.
//
// admit, when not nil, is asked before the commit whether the store may
// take the payments of ps it does not hold yet, given how many request ids
// they have: an error from it is each one's error, as it is, and none is
// stored. It is not asked when ps holds nothing new. The same read tells
// new payments from repeats for admit and for the commit, so that a PAY
// costs one read transaction before its commit.
func (s *Store) AcceptAll(ps []Payment, admit func(fresh int) error) []Accepted {
	out := make([]Accepted, len(ps))
	now := s.now()
	// A repeated PAY is answered from a read, so that it gets the stored
	// payment even while the store cannot write (a full or read-only file
	// system): answering it with an error would deny a payment the
	// register was told is accepted.
	var fresh []int // indexes into ps of the payments not stored yet
	err := s.view(func(tx *bolt.Tx) error {
		for i := range ps {
			p := &ps[i]
			if err := validate(p); err != nil {
				out[i].Err = err
				continue
			}
			if p.AcceptedAt.IsZero() {
				p.AcceptedAt = now
			}
			old, err := loadRecord(tx, p.RequestID)
			switch {
			case err == nil:
				out[i] = Accepted{Payment: old, Err: conflict(&old, p)}
			case errors.Is(err, ErrNotFound):
				fresh = append(fresh, i)
			default:
				out[i].Err = fmt.Errorf("store payment %q: %w", p.RequestID, err)
			}
		}
		return nil
	})
	if err != nil {
		for i := range out {
			out[i] = Accepted{Err: fmt.Errorf("store payment %q: %w", ps[i].RequestID, err)}
		}
		return out
	}
	if len(fresh) == 0 {
		return out
	}
	if admit != nil {
		ids := make(map[string]bool, len(fresh))
		for _, i := range fresh {
			ids[ps[i].RequestID] = true
		}
		if err := admit(len(ids)); err != nil {
			for _, i := range fresh {
				out[i] = Accepted{Err: err}
			}
			return out
		}
	}
	created := make(map[int]bool, len(fresh))
	err = s.update(func(tx *bolt.Tx) error {
		clear(created)
		for _, i := range fresh {
			p := &ps[i]
			// Another process may have stored it since the read, or an
			// earlier payment of ps had the same request id.
			old, err := loadRecord(tx, p.RequestID)
			switch {
			case err == nil:
				out[i] = Accepted{Payment: old, Err: conflict(&old, p)}
				continue
			case !errors.Is(err, ErrNotFound):
				return err
			}
			rec := Payment{
				RequestID:  p.RequestID,
				PaymentID:  p.PaymentID,
				Amount:     p.Amount,
				Currency:   p.Currency,
				Lane:       p.Lane,
				AcceptedAt: p.AcceptedAt,
				Deadline:   p.Deadline,
				NextAt:     p.AcceptedAt,
				State:      Pending,
			}
			s.audit(&rec, Event{Time: now, Call: CallAccept})
			if err := writeRecord(tx, nil, &rec); err != nil {
				return err
			}
			out[i] = Accepted{Payment: rec, Created: true}
			created[i] = true
		}
		if len(created) == 0 {
			return errUnchanged // nothing new after all: no commit
		}
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		// Nothing of the transaction was stored, and what it read may
		// have been its own writes: every payment it handled gets the
		// error, and the register sends it again.
		for _, i := range fresh {
			out[i] = Accepted{Err: fmt.Errorf("store payment %q: %w", ps[i].RequestID, err)}
		}
	}
	return out
}

// validate checks the fields Accept needs.
func validate(p *Payment) error {
	switch {
	case p.RequestID == "" || len(p.RequestID) > maxRequestID:
		return fmt.Errorf("request id %q must be 1 to %d bytes: %w", p.RequestID, maxRequestID, ErrInvalid)
	case p.Amount <= 0:
		return fmt.Errorf("payment %q: amount %d must be positive: %w", p.RequestID, p.Amount, ErrInvalid)
	case p.Currency == "":
		return fmt.Errorf("payment %q: currency is missing: %w", p.RequestID, ErrInvalid)
	case p.Deadline.IsZero():
		return fmt.Errorf("payment %q: poll deadline is missing: %w", p.RequestID, ErrInvalid)
	}
	return nil
}

// conflict compares a repeated PAY with the stored one.
func conflict(old, p *Payment) error {
	switch {
	case old.Amount != p.Amount:
		return fmt.Errorf("payment %q is stored with amount %d, not %d: %w", p.RequestID, old.Amount, p.Amount, ErrConflict)
	case old.Currency != p.Currency:
		return fmt.Errorf("payment %q is stored with currency %s, not %s: %w", p.RequestID, old.Currency, p.Currency, ErrConflict)
	case old.PaymentID != "" && p.PaymentID != "" && old.PaymentID != p.PaymentID:
		return fmt.Errorf("payment %q is stored with payment id %q, not %q: %w", p.RequestID, old.PaymentID, p.PaymentID, ErrConflict)
	}
	return nil
}

// Record adds a non-final outcome e (a PROCESSING answer, an unknown
// result, a failed call) to the trail of payment req and schedules its next
// action at next (zero: now). The state does not change. On a final
// payment the event is still recorded, nothing is scheduled, and ErrFinal
// is returned.
func (s *Store) Record(req string, e Event, next time.Time) error {
	_, err := s.Apply(req, Step{Event: e, Next: next})
	return err
}

// Step is one decision about an unfinished payment: the answer that led to
// it and everything it changes, which Apply commits together so that no
// crash or full disk can leave half of a decision stored (a FAIL without
// its follow-up flag, a cancel without its reason).
type Step struct {
	// Event is the call and its outcome for the audit trail; none when
	// Event.Call is empty.
	Event Event
	// Track, when not nil, replaces the payment's Track.
	Track *Track
	// Checked lifts Recovered: Alipay gave a verified answer about the
	// payment since salvage brought it back.
	Checked bool
	// Cancel, when not empty, moves a PENDING payment to CANCELLING with
	// this reason (a CANCELLING one keeps its reason).
	Cancel string
	// FollowUp, when not empty, flags the payment for a person with this
	// reason, added to any earlier ones.
	FollowUp string
	// Result, when not nil, makes the payment final with it and puts it in
	// the outbox; its Status must be a final state.
	Result *Result
	// Next is when the next action on a payment that stays unfinished is
	// due (zero: now).
	Next time.Time
}

// Apply commits step st for payment req in one transaction and returns the
// payment as stored after it. On a payment that is already final only the
// trail changes: the event is recorded (noted as not applied when it
// carried a result) and Apply returns the stored payment and ErrFinal.
func (s *Store) Apply(req string, st Step) (Payment, error) {
	if st.Result != nil && !st.Result.Status.Final() {
		return Payment{}, fmt.Errorf("payment %q cannot finish as %q, only as SUCCESS, FAIL or CANCELLED: %w", req, st.Result.Status, ErrTransition)
	}
	return s.change(req, func(p *Payment) (bool, error) {
		if p.State.Final() {
			final := fmt.Errorf("payment %q is %s: %w", req, p.State, ErrFinal)
			if st.Event.Call == "" {
				return false, final
			}
			e := st.Event
			if st.Result != nil {
				e.Note = joinNote(e.Note, fmt.Sprintf("not applied: %s result arrived for a payment already %s", st.Result.Status, p.State))
			}
			s.audit(p, e)
			return true, final
		}
		if st.Event.Call != "" {
			s.audit(p, st.Event)
		}
		if st.Track != nil {
			p.Track = *st.Track
		}
		if st.Checked {
			p.Recovered = false
		}
		if st.Cancel != "" && p.State == Pending {
			p.State, p.CancelReason = Cancelling, st.Cancel
			s.audit(p, Event{Call: CallStartCancel, Note: st.Cancel})
		}
		if st.FollowUp != "" && !hasNote(p.FollowUp, st.FollowUp) {
			p.FollowUp = joinNote(p.FollowUp, st.FollowUp)
			s.audit(p, Event{Call: CallFlag, Note: st.FollowUp})
		}
		if r := st.Result; r != nil {
			p.State, p.Result, p.NextAt, p.FinishedAt = r.Status, *r, time.Time{}, s.now()
			if p.PaymentID == "" {
				p.PaymentID = r.PaymentID
			}
			return true, nil
		}
		p.NextAt = s.orNow(st.Next)
		return true, nil
	})
}

// StartCancel moves a PENDING payment to CANCELLING, noting reason
// (REGISTER_CANCEL, TIMEOUT, AMOUNT_MISMATCH) and scheduling the cancel
// call at next (zero: now). On a CANCELLING payment it changes nothing and
// returns nil; on a final one it changes nothing and returns ErrFinal.
func (s *Store) StartCancel(req, reason string, next time.Time) error {
	_, err := s.change(req, func(p *Payment) (bool, error) {
		switch p.State {
		case Cancelling:
			return false, nil
		case Pending:
			p.State, p.CancelReason, p.NextAt = Cancelling, reason, s.orNow(next)
			s.audit(p, Event{Call: CallStartCancel, Note: reason})
			return true, nil
		}
		return false, fmt.Errorf("payment %q is %s: %w", req, p.State, ErrFinal)
	})
	return err
}

// Finish makes payment req final with result r and puts it in the outbox,
// in one transaction, recording e (the answer that settled it) in the
// trail. r.Status must be a final state (else ErrTransition). A payment
// that has no PaymentID takes r.PaymentID.
//
// On a payment that is already final nothing but the trail changes: e is
// recorded with a note that it was not applied, and Finish returns the
// stored payment and ErrFinal.
func (s *Store) Finish(req string, r Result, e Event) (Payment, error) {
	return s.Apply(req, Step{Event: e, Result: &r})
}

// Deliver records that the register confirmed the result of payment req
// (DONE) at at (zero: now) and takes it out of the outbox. A payment not
// final gives ErrNotFinal; an unknown one ErrNotFound; a second DONE
// changes nothing.
func (s *Store) Deliver(req string, at time.Time) error {
	_, err := s.change(req, func(p *Payment) (bool, error) {
		switch {
		case !p.State.Final():
			return false, fmt.Errorf("payment %q is %s: %w", req, p.State, ErrNotFinal)
		case p.Delivered():
			return false, nil
		}
		p.DeliveredAt = s.orNow(at)
		s.audit(p, Event{Time: p.DeliveredAt, Call: CallDeliver})
		return true, nil
	})
	return err
}

// Flag marks payment req for manual follow-up, saying why. Reasons add up;
// the same reason twice is kept once. A flagged payment is never pruned.
func (s *Store) Flag(req, why string) error {
	if why == "" {
		return fmt.Errorf("flag payment %q: a reason is needed: %w", req, ErrInvalid)
	}
	_, err := s.change(req, func(p *Payment) (bool, error) {
		if hasNote(p.FollowUp, why) {
			return false, nil
		}
		p.FollowUp = joinNote(p.FollowUp, why)
		s.audit(p, Event{Call: CallFlag, Note: why})
		return true, nil
	})
	return err
}

// errUnchanged rolls back a transaction that had nothing to write.
var errUnchanged = errors.New("unchanged")

// change runs fn on payment req in one write transaction. fn says whether
// to write the record back and what to return; the record is written even
// when fn returns an error with write true (an audit entry on a final
// payment). It returns the payment as stored after the transaction.
func (s *Store) change(req string, fn func(p *Payment) (write bool, err error)) (Payment, error) {
	var (
		out    Payment
		result error
		h      *held
	)
	err := s.update(func(tx *bolt.Tx) error {
		h = nil
		old, err := loadRecord(tx, req)
		if err != nil {
			return err
		}
		p := old
		p.Audit = append([]Event(nil), old.Audit...)
		// Steps held in memory come first, as if they had been
		// committed in turn (held.go); on a final payment they are
		// stale and dropped.
		if !old.State.Final() {
			h = s.heldFor(req)
			s.merge(&p, h)
		}
		write, ferr := fn(&p)
		result = ferr
		write = write || h != nil
		if !write {
			out = old
			if ferr != nil {
				return ferr
			}
			return errUnchanged
		}
		if err := writeRecord(tx, &old, &p); err != nil {
			return err
		}
		out = p
		return nil
	})
	if err == nil {
		s.dropHeld(req, h)
	}
	switch {
	case errors.Is(err, errUnchanged):
		return out, nil
	case err == nil:
		return out, result
	case errors.Is(err, ErrNotFound), err == result:
		return out, err
	}
	return out, fmt.Errorf("update payment %q: %w", req, err)
}

// audit appends e to p's trail, dropping the oldest events beyond the
// limit, and counts calls and errors.
func (s *Store) audit(p *Payment, e Event) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	p.Audit = append(p.Audit, e)
	if over := len(p.Audit) - s.auditLimit; over > 0 {
		p.Audit = append([]Event(nil), p.Audit[over:]...)
		p.AuditDropped += over
	}
	switch e.Call {
	case CallInquiry:
		p.Inquiries++
	case CallCancel:
		p.Cancels++
	}
	if e.Error != "" {
		p.LastError = e.Error
	}
}

func (s *Store) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return s.now()
	}
	return t
}

// hasNote reports whether the "; "-joined notes hold note.
func hasNote(notes, note string) bool {
	for n := range strings.SplitSeq(notes, "; ") {
		if n == note {
			return true
		}
	}
	return false
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
