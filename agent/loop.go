package agent

import (
	"context"
	"errors"
	"time"

	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/queue"
)

const (
	// pruneEvery is how often delivered payments past retention are removed.
	pruneEvery = time.Hour
	// idleWake bounds the loop's sleep when nothing is planned.
	idleWake = time.Hour
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
			a.take(ev, events)
		case o := <-a.outcomes:
			a.apply(o)
		case req := <-a.statusAcks:
			a.statusAcked(req)
		case err := <-a.verified:
			a.storeVerified(err)
		case <-timer.C:
		}
		wake := a.tick(a.now())
		timer.Reset(wake)
	}
}

// maxPayBatch bounds the PAYs stored in one commit.
const maxPayBatch = 64

// take acts on ev and on the events already waiting behind it, without
// waiting for more: PAYs that came one after the other are stored in one
// commit and answered in the order they came (handlePays), and the first
// other event ends the run and is handled after them.
func (a *Agent) take(ev device.Event, events <-chan device.Event) {
	r := fromDevice(ev)
	if r.kind != reqPay {
		a.handle(r)
		return
	}
	ps := []pay{r.pay}
	var after *request
	for len(ps) < maxPayBatch && after == nil {
		var ev device.Event
		select {
		case ev = <-events: // nil once closed, which the loop then sees
		default:
		}
		if ev == nil {
			break
		}
		if r := fromDevice(ev); r.kind == reqPay {
			ps = append(ps, r.pay)
		} else {
			after = &r
		}
	}
	a.answerPays(a.handlePays(ps, a.now()))
	if after != nil {
		a.handle(*after)
	}
}

// tick does everything that is due at now and returns how long to sleep.
// The sleep is measured on the monotonic clock (the timer's), and no
// payment's part of it is longer than its pace, whatever the wall clock
// does.
func (a *Agent) tick(now time.Time) time.Duration {
	next := idleWake
	if d := a.dispatch(now); d > 0 && d < next {
		next = d
	}
	if d := a.resendDue(now); d > 0 {
		next = min(next, d)
	}
	next = min(next, max(a.watchStore(now), 0))
	if a.opts.Retention > 0 {
		if a.lastPrune.IsZero() || now.Sub(a.lastPrune) >= pruneEvery || now.Before(a.lastPrune) {
			a.prune(now)
		}
		next = min(next, max(a.lastPrune.Add(pruneEvery).Sub(now), 0))
	}
	return next
}

// dispatch starts a call for every due payment that has none in flight, as
// far as there are free workers, and returns how long until the next one
// falls due (zero when only an outcome can bring more). A payment whose
// last decision the store refused has that decision committed again
// instead of a new call.
func (a *Agent) dispatch(now time.Time) time.Duration {
	mono := a.mono()
	// Each due payment leaves the due ones as it is worked (its call is
	// in flight, it is forgotten, or planned anew), but for an answer
	// committed again, which may be due at once for its next call: so the
	// batches end.
	for a.table.calls() < a.workers {
		batch := a.table.due(mono, a.workers-a.table.calls()+len(a.unsaved))
		if len(batch) == 0 {
			break
		}
		for _, req := range batch {
			if a.table.calls() >= a.workers {
				break
			}
			if o, ok := a.unsaved[req]; ok {
				a.apply(o)
				continue
			}
			a.start(req, now)
		}
	}
	if a.table.calls() >= a.workers {
		return 0 // what is due waits for a worker: a worker coming free is an outcome, which wakes the loop
	}
	return a.table.wake(a.mono())
}

// start decides what to do with the due payment req and hands the call to a
// worker. A payment that cannot be read is tried again after a pause; one
// that is final or gone is dropped from the plan.
func (a *Agent) start(req string, now time.Time) {
	p, err := a.store.Get(req)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		a.forget(req)
		return
	case err != nil:
		a.storeFailed(req, nil, "read the payment", err, now)
		return
	case p.State.Final():
		a.forget(req)
		return
	}
	act := decide(&p, now)
	if act != actInquire {
		// What was held in memory is committed before any call but a
		// plain inquiry: a look, a cancel, a verify or a late inquiry
		// acts on what the payment has taught (docs/design.md, "What is
		// durable when").
		if err := a.store.Flush(req); err != nil {
			a.storeFailed(req, nil, "commit what Alipay's answers taught about the payment", err, now)
			return
		}
	}
	a.table.begin(req)
	n := a.table.calls()
	a.setState(func(s *Snapshot) { s.InFlight = n })
	a.jobs <- job{ref: ref(&p), act: act} // never blocks: len(inflight) <= workers = cap(jobs)
}

// prune removes delivered payments older than the retention.
func (a *Agent) prune(now time.Time) {
	a.lastPrune = now
	n, err := a.store.Prune(now, a.opts.Retention)
	if err != nil {
		a.countStoreError()
		a.log.Error().Err(err).Msg("cannot prune delivered payments; they stay stored")
		return
	}
	if n > 0 {
		a.log.Info().Int("removed", n).Dur("retention", a.opts.Retention).Msg("pruned delivered payments")
	}
}
