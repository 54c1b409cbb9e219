package agent

import (
	"context"
	"time"

	"github.com/posagent/posagent/queue"
)

const (
	// horizon is how far ahead the loop looks in the due index to find its
	// next wake-up past payments whose calls are in flight.
	horizon = time.Second
	// dueBatch bounds the payments read from the due index per pass.
	dueBatch = 256
	// pruneEvery is how often delivered payments past retention are removed.
	pruneEvery = time.Hour
)

// loop is the agent's one decision maker. It waits on a single timer (the
// earliest of the next payment action, the next RESULT resend and the next
// prune), on the register's events and on the outcomes of Alipay calls, and
// handles each in turn. Everything it changes is committed to the store
// before anything is sent or called because of it.
func (a *Agent) loop(ctx context.Context, linkErr <-chan error) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	events := a.register.Events()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-linkErr:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			a.handle(fromDevice(ev))
		case o := <-a.outcomes:
			a.apply(o)
		case <-timer.C:
		}
		wake := a.tick(a.now())
		timer.Reset(wake)
	}
}

// tick does everything that is due at now and returns how long to sleep.
func (a *Agent) tick(now time.Time) time.Duration {
	next := now.Add(time.Hour)
	if t := a.dispatch(now); !t.IsZero() && t.Before(next) {
		next = t
	}
	if t := a.resendDue(now); !t.IsZero() && t.Before(next) {
		next = t
	}
	if a.opts.Retention > 0 {
		if now.Sub(a.lastPrune) >= pruneEvery {
			a.prune(now)
		}
		if t := a.lastPrune.Add(pruneEvery); t.Before(next) {
			next = t
		}
	}
	return max(next.Sub(now), 0)
}

// dispatch starts a call for every due payment that has none in flight, as
// far as there are free workers, and returns when it next has work (zero
// when only an outcome can bring more).
func (a *Agent) dispatch(now time.Time) time.Time {
	ps, err := a.store.Due(now.Add(horizon), dueBatch)
	if err != nil {
		a.log.Error().Err(err).Msg("cannot read due payments from the store; trying again shortly")
		return now.Add(time.Second)
	}
	var wake time.Time
	earliest := func(t time.Time) {
		if wake.IsZero() || t.Before(wake) {
			wake = t
		}
	}
	waiting := false // a payment in the batch waits for a call in flight
	for i := range ps {
		p := &ps[i]
		if _, busy := a.inflight[p.RequestID]; busy {
			waiting = true
			continue
		}
		if p.NextAt.After(now) {
			earliest(p.NextAt)
			continue
		}
		if len(a.inflight) >= a.workers {
			continue // a worker coming free is an outcome, which wakes the loop
		}
		if !a.start(p, now) {
			earliest(now.Add(time.Second)) // the store failed; try again shortly
		}
	}
	switch {
	case len(ps) == dueBatch || waiting:
		earliest(now.Add(horizon))
	case len(ps) == 0:
		if t, ok, err := a.store.Next(); err == nil && ok {
			earliest(t)
		}
	}
	return wake
}

// start decides what to do with the due payment p and hands the call to a
// worker, committing first whatever the decision changes. It reports false
// when the store refused that change.
func (a *Agent) start(p *queue.Payment, now time.Time) bool {
	act := decide(p, now)
	switch act {
	case actStartCancel:
		if err := a.store.StartCancel(p.RequestID, reasonTimeout, now); err != nil {
			a.storeError(p.RequestID, "start the cancel", err)
			return false
		}
		a.log.Info().Str("req", p.RequestID).Str("reason", reasonTimeout).Msg("deadline passed, cancelling")
		act = actCancel
	case actLate:
		if !hasNote(p.FollowUp, followUpLate) {
			if err := a.store.Flag(p.RequestID, followUpLate); err != nil {
				a.storeError(p.RequestID, "flag for follow-up", err)
				return false
			}
			a.log.Error().Str("req", p.RequestID).Str("state", string(p.State)).
				Msg("payment is past Alipay's cancel window and not final; asking inquiryPayment slowly, a person must follow it up")
			a.setState(func(s *Snapshot) { s.FollowUps++ })
		}
	}
	a.inflight[p.RequestID] = act
	n := len(a.inflight)
	a.setState(func(s *Snapshot) { s.InFlight = n })
	a.jobs <- job{ref: ref(p), act: act} // never blocks: len(inflight) <= workers = cap(jobs)
	return true
}

// prune removes delivered payments older than the retention.
func (a *Agent) prune(now time.Time) {
	a.lastPrune = now
	n, err := a.store.Prune(now, a.opts.Retention)
	if err != nil {
		a.log.Error().Err(err).Msg("cannot prune delivered payments; they stay stored")
		return
	}
	if n > 0 {
		a.log.Info().Int("removed", n).Dur("retention", a.opts.Retention).Msg("pruned delivered payments")
	}
}

// storeError logs a failed store change; the payment stays as it was stored
// and is picked up again from the due index.
func (a *Agent) storeError(req, what string, err error) {
	a.log.Error().Err(err).Str("req", req).Msgf("cannot %s in the store; will try again", what)
}
