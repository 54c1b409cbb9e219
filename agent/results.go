package agent

import (
	"time"

	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/queue"
)

// sendResult sends the RESULT of the final payment p, which is committed in
// the outbox, and remembers when, for the 30 s resend.
func (a *Agent) sendResult(p *queue.Payment, now time.Time) {
	a.sent[p.RequestID] = now
	if !a.linkUp {
		return // sent when the next HELLO exchange completes
	}
	a.enqueue(resultMessage(p))
}

// resendAll sends every RESULT the register has not confirmed; it runs each
// time a HELLO exchange completes.
func (a *Agent) resendAll(now time.Time) {
	ps, err := a.store.Outbox()
	if err != nil {
		a.log.Error().Err(err).Msg("cannot read the outbox; results are sent again at the next HELLO or in 30 s")
		return
	}
	for i := range ps {
		a.sent[ps[i].RequestID] = now
		a.enqueue(resultMessage(&ps[i]))
	}
	if len(ps) > 0 {
		a.log.Info().Int("results", len(ps)).Msg("sent unconfirmed results after HELLO")
	}
}

// resendDue sends again every RESULT last sent ResendAfter ago or more, and
// returns when the next one falls due (zero: none, or the link is down and
// the next HELLO exchange sends them all).
func (a *Agent) resendDue(now time.Time) time.Time {
	if !a.linkUp {
		return time.Time{}
	}
	var wake time.Time
	for req, at := range a.sent {
		due := at.Add(a.opts.ResendAfter)
		if !due.After(now) {
			p, err := a.store.Get(req)
			if err != nil || !p.State.Final() || p.Delivered() {
				delete(a.sent, req)
				continue
			}
			a.enqueue(resultMessage(&p))
			a.sent[req] = now
			due = now.Add(a.opts.ResendAfter)
		}
		if wake.IsZero() || due.Before(wake) {
			wake = due
		}
	}
	return wake
}

// enqueue hands m to the sender without ever blocking the loop. When the
// sender is that far behind the link is in trouble anyway: a dropped STATUS
// is asked for again by the register, a dropped RESULT is resent.
func (a *Agent) enqueue(m device.Message) {
	select {
	case a.out <- m:
	default:
		a.log.Warn().Str("type", string(m.Type())).Msg("send queue full; message dropped, it will be repeated")
	}
}

// resultMessage is the RESULT of the final payment p.
func resultMessage(p *queue.Payment) device.Result {
	return device.Result{
		Req: p.RequestID, Status: string(p.State), PID: paymentID(p),
		Amount: p.Amount, Currency: p.Currency,
		Code: p.Result.Code, Msg: p.Result.Message, Time: p.Result.Time,
	}
}

// statusMessage is the STATUS frame of s.
func statusMessage(s reply) device.Status {
	m := device.Status{Req: cut(s.req, maxEchoedReqLen), State: s.state, Code: s.code, Msg: displayText(s.msg)}
	if p := s.final; p != nil {
		m.PID, m.Amount, m.Currency = paymentID(p), p.Amount, p.Currency
		m.Code, m.Msg, m.Time = p.Result.Code, p.Result.Message, p.Result.Time
	}
	return m
}

// paymentID is Alipay's id of p: from its result, else from the PAY.
func paymentID(p *queue.Payment) string {
	if p.Result.PaymentID != "" {
		return p.Result.PaymentID
	}
	return p.PaymentID
}

// cut returns s cut to its first n characters (code points).
func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}
