package agent

import (
	"errors"
	"time"

	"github.com/posagent/posagent/queue"
)

// Pacing after the store failed to commit a decision.
const (
	storeRetryFirst = time.Second
	storeRetryMax   = 30 * time.Second
)

// commit stores step st, decided from outcome o for payment p, in one
// transaction, and only then acts on it: a final payment's RESULT is sent,
// an unfinished one is scheduled. A step that changes nothing a restarted
// agent would decide on (holdable) is held in memory instead, to be
// committed with the payment's next committed change: losing it in a
// crash only repeats a call that was safe to make. When the store refuses, nothing is sent
// and the outcome is kept to be committed again after a pause; no new call
// is made for the payment meanwhile (rule 9: a failing store does not
// spin).
func (a *Agent) commit(p *queue.Payment, o outcome, st queue.Step, now time.Time) {
	if st.Result != nil {
		st.Result.Message = displayText(st.Result.Message)
	}
	req := p.RequestID
	var (
		done queue.Payment
		err  error
	)
	// While the store has a fault, every step goes to the store, so that
	// one it cannot commit paces the payment as rule 9 asks.
	if a.health.fault == faultNone && a.storeFails[req] == 0 && holdable(p, &st) {
		done, err = a.store.Hold(req, st)
	} else {
		done, err = a.store.Apply(req, st)
	}
	switch {
	case errors.Is(err, queue.ErrFinal):
		a.forget(req)
		return
	case err != nil:
		a.storeFailed(req, &o, "record the answer", err, now)
		return
	}
	delete(a.unsaved, req)
	delete(a.storeFails, req)
	if st.FollowUp != "" && !hasNote(p.FollowUp, st.FollowUp) {
		a.setState(func(s *Snapshot) { s.FollowUps++ })
		if st.FollowUp == followUpLate {
			a.log.Error().Str("req", req).Str("state", string(p.State)).
				Msg("payment is past Alipay's cancel window and not final; asking inquiryPayment slowly, a person must follow it up")
		}
	}
	if done.State.Final() {
		a.forget(req)
		a.log.Info().Str("req", done.RequestID).Str("pid", done.PaymentID).Int64("amt", done.Amount).
			Str("cur", done.Currency).Str("status", string(done.State)).Str("code", done.Result.Code).
			Int("inquiries", done.Inquiries).Int("cancels", done.Cancels).Msg("payment final")
		a.setState(func(s *Snapshot) { s.Finished++ })
		a.sendResult(&done, now)
		return
	}
	a.schedule(req, done.NextAt, now)
	if st.Cancel != "" && p.State == queue.Pending {
		a.log.Info().Str("req", req).Str("reason", st.Cancel).Msg("cancelling")
	}
	if e := st.Event; e.Error == "" && e.Call != "" {
		ev := a.log.Info().Str("req", req).Str("call", e.Call).Str("result", e.ResultStatus).Str("code", e.Code)
		if e.PaymentStatus != "" {
			ev = ev.Str("payment_status", e.PaymentStatus)
		}
		if e.Note != "" {
			ev = ev.Str("note", e.Note)
		}
		ev.Msg("not final yet")
	}
}

// storeFailed handles a store that could not read or commit what payment
// req needs: it logs the error and schedules the payment again after a
// pause that doubles from 1 s to 30 s while the store keeps failing. The
// outcome o, when it holds an answer, is kept and committed again then,
// before any new call.
func (a *Agent) storeFailed(req string, o *outcome, what string, err error, now time.Time) {
	a.storeFails[req]++
	a.countStoreError()
	n := a.storeFails[req]
	wait := backoff(storeRetryFirst, storeRetryMax, n, a.rand)
	if o != nil {
		kept := *o
		kept.again = true
		a.unsaved[req] = kept
	}
	a.table.plan(req, a.mono()+wait)
	a.storeTrouble(err)
	a.log.Error().Err(err).Str("req", req).Int("failures", n).Str("retry_in", wait.Round(time.Millisecond).String()).
		Msgf("cannot %s in the store; will try again", what)
}

// storeError logs a failed store change that is not tied to one payment's
// schedule; the payment stays as it was stored.
func (a *Agent) storeError(req, what string, err error) {
	a.storeTrouble(err)
	a.countStoreError()
	a.log.Error().Err(err).Str("req", req).Msgf("cannot %s in the store; will try again", what)
}

// countStoreError counts a failed read or commit of the store for the
// status page and /metrics (posagent_store_errors_total); every place that
// logs one calls it.
func (a *Agent) countStoreError() {
	a.setState(func(s *Snapshot) { s.StoreErrors++ })
}

// holdable reports whether step st, decided for payment p (as Get returns
// it, held steps included), may be held in memory rather than committed
// (docs/design.md, "What is durable when"). It may when it finishes
// nothing, starts no cancel, adds no follow-up flag and lifts no salvage
// mark, the payment is PENDING and was not brought back by a salvage, and
// its Track, clear of every mark that paces or stops a cancel (refusals,
// throttled cancels, Verify, a mismatch, NoCancel, an absent run),
// changes at most in what only matters once such a mark is set or at the
// cancel window: Absent counted up, CreatedAt learnt, Known set. A
// restarted agent that lost those asks inquiryPayment again, as it would
// have anyway, and start commits them before any call that is not a plain
// inquiry; every mark itself is always committed, and a lost Known is
// assumed (assumeKnown).
func holdable(p *queue.Payment, st *queue.Step) bool {
	switch {
	case st.Result != nil, st.Cancel != "", st.Checked && p.Recovered,
		p.State != queue.Pending, p.Recovered,
		st.FollowUp != "" && !hasNote(p.FollowUp, st.FollowUp):
		return false
	case st.Track == nil:
		return true
	}
	was, is := p.Track, *st.Track
	switch {
	case was.Refusals != 0, was.Throttled != 0, was.Verify, was.Mismatch, was.NoCancel,
		!was.AbsentSince.IsZero(), was.AbsentFor != 0,
		was.Known && !is.Known, is.Absent < was.Absent:
		return false
	}
	// Known, once set, ends the ORDER_NOT_EXIST grace for good (rule 8).
	// It may be held all the same: a run that crashes before committing
	// it leaves the store marked as not closed, and the next run marks
	// every open payment MaybeKnown (assumeKnown), which the grace rule
	// reads as Known.
	was.Absent, was.CreatedAt, was.Known = is.Absent, is.CreatedAt, is.Known
	return was == is
}
