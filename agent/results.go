package agent

import (
	"errors"
	"time"

	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/queue"
)

// sendResult sends the RESULT of the final payment p, which is committed in
// the outbox, and plans its resend.
func (a *Agent) sendResult(p *queue.Payment, now time.Time) {
	a.resend[p.RequestID] = a.mono() + a.opts.ResendAfter
	if !a.linkUp {
		return // sent when the next HELLO exchange completes
	}
	a.enqueue(resultMessage(p), nil)
}

// resendAll sends every RESULT the register has not confirmed; it runs each
// time a HELLO exchange completes.
func (a *Agent) resendAll(now time.Time) {
	ps, err := a.store.Outbox()
	if err != nil {
		a.countStoreError()
		a.log.Error().Err(err).Msg("cannot read the outbox; results are sent again at the next HELLO or in 30 s")
		return
	}
	next := a.mono() + a.opts.ResendAfter
	for i := range ps {
		a.resend[ps[i].RequestID] = next
		a.enqueue(resultMessage(&ps[i]), nil)
	}
	if len(ps) > 0 {
		a.log.Info().Int("results", len(ps)).Msg("sent unconfirmed results after HELLO")
	}
}

// resendDue sends again every RESULT whose resend has come (ResendAfter
// after it was last sent, on the monotonic clock), and returns how long
// until the next one comes (zero: none, or the link is down and the next
// HELLO exchange sends them all). A payment the store cannot read now stays
// in the resend set.
func (a *Agent) resendDue(now time.Time) time.Duration {
	if !a.linkUp {
		return 0
	}
	mono := a.mono()
	var wake time.Duration
	for req, at := range a.resend {
		if at <= mono {
			p, err := a.store.Get(req)
			switch {
			case errors.Is(err, queue.ErrNotFound):
				delete(a.resend, req)
				continue
			case err != nil:
				a.countStoreError()
				a.log.Error().Err(err).Str("req", req).Msg("cannot read an unconfirmed result to send it again; trying again shortly")
				at = mono + storeRetryFirst
			case !p.State.Final() || p.Delivered():
				delete(a.resend, req)
				continue
			default:
				a.enqueue(resultMessage(&p), nil)
				at = mono + a.opts.ResendAfter
			}
			a.resend[req] = at
		}
		if wake == 0 || at-mono < wake {
			wake = at - mono
		}
	}
	return wake
}

// enqueue hands m to the link without ever blocking the loop, and calls
// acked, when not nil, once the register has acknowledged m. A message the link drops
// (it is down, or its queue is full) is repeated: the register asks again
// for a STATUS, and a RESULT is resent.
func (a *Agent) enqueue(m device.Message, acked func()) {
	if err := a.register.Post(m, acked); err != nil {
		a.log.Debug().Err(err).Str("type", string(m.Type())).Msg("message not sent")
	}
}

// resultMessage is the RESULT of the final payment p.
func resultMessage(p *queue.Payment) device.Result {
	return device.Result{
		Req: p.RequestID, Status: string(p.State), PID: p.AlipayID(),
		Amount: p.Amount, Currency: p.Currency,
		Code: p.Result.Code, Msg: p.Result.Message, Time: p.Result.Time,
	}
}

// statusMessage is the STATUS frame of s.
func statusMessage(s reply) device.Status {
	m := device.Status{Req: cut(s.req, maxEchoedReqLen), State: s.state, Code: s.code, Msg: displayText(s.msg)}
	if p := s.final; p != nil {
		m.PID, m.Amount, m.Currency = p.AlipayID(), p.Amount, p.Currency
		m.Code, m.Msg, m.Time = p.Result.Code, p.Result.Message, p.Result.Time
	}
	return m
}

// cut returns s cut to its first n characters (code points).
func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}
