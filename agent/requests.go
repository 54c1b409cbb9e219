package agent

import (
	"errors"
	"time"

	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/queue"
)

// request is what the register sent, as the agent acts on it; fromDevice
// makes one from each of the link's events.
type request struct {
	kind    requestKind
	req     string // the request id as received, for every request
	pay     pay    // a valid PAY
	invalid string // for an invalid PAY: "key: rule"
	err     string // for a link that went down: why
	device  string // for a link that came up: the device opened
	usb     string // and its USB identity, where known
}

// requestKind tells requests apart.
type requestKind int

const (
	reqPay requestKind = iota
	reqInvalidPay
	reqCancel
	reqQuery
	reqDone
	reqHello  // a HELLO exchange completed: resend every unconfirmed RESULT
	reqLinkUp // the port is open
	reqLinkDown
	reqOpenFailed // the port could not be opened; the link tries again
	reqUnknownReq // a CANCEL or QUERY whose req is invalid: answered UNKNOWN
	reqIgnore
)

// handle acts on one request from the register, answering it when the
// protocol asks for an answer.
func (a *Agent) handle(r request) {
	now := a.now()
	switch r.kind {
	case reqPay:
		a.answerPays(a.handlePays([]pay{r.pay}, now))
	case reqInvalidPay:
		a.log.Warn().Str("req", cut(r.req, maxEchoedReqLen)).Str("problem", r.invalid).Msg("PAY rejected: invalid field")
		a.enqueue(statusMessage(reply{req: r.req, state: device.StateRejected, code: device.CodeInvalidField, msg: r.invalid}), nil)
	case reqCancel:
		if s, ok := a.handleCancel(r.req, now); ok {
			a.enqueue(statusMessage(s), nil)
		}
	case reqQuery:
		if s, ok := a.handleQuery(r.req); ok {
			a.enqueue(statusMessage(s), nil)
		}
	case reqUnknownReq:
		a.enqueue(statusMessage(reply{req: r.req, state: device.StateUnknown}), nil)
	case reqOpenFailed:
		// The line logs the failure itself; the status page shows it.
		a.setState(func(s *Snapshot) { s.LinkError = r.err })
	case reqDone:
		a.handleDone(r.req, now)
	case reqHello:
		a.resendAll(now)
	case reqLinkUp, reqLinkDown:
		up := r.kind == reqLinkUp
		if up == a.linkUp {
			return
		}
		a.linkUp = up
		a.setState(func(s *Snapshot) {
			s.LinkUp, s.LinkSince, s.LinkError = up, now, r.err
			if up {
				s.LinkDevice, s.LinkUSB = r.device, r.usb
			}
		})
		if up {
			a.log.Info().Msg("register link up")
		} else {
			a.log.Warn().Str("why", r.err).Msg("register link down")
		}
	}
}

// maxEchoedReqLen bounds the req a STATUS echoes (register protocol).
const maxEchoedReqLen = 64

// pay is a PAY whose fields passed the protocol's rules.
type pay struct {
	req, pid, cur, lane string
	amt                 int64
	exp                 time.Duration // zero: polling.cancel_after
}

// reply is a STATUS answer. For a final state it carries the payment, whose
// result fields go with it.
type reply struct {
	req, state, code, msg string
	final                 *queue.Payment
	// after, when not nil, is what follows the answer once its STATUS is
	// on its way, its log lines and the status page's count: the register
	// waits for the STATUS, not for them.
	after func()
}

// handlePays stores the PAYs ps, which arrived together, and returns the
// answer to each, in order, for answerPays to send: an ACCEPTED is so sent
// only after the store has committed (docs/design.md, rule 1). The new
// payments among ps are stored in one commit (queue.Store.AcceptAll), so
// that PAYs arriving while a commit is on its way to disk wait for one
// more sync, not one each. A repeated PAY is never tracked twice and is
// answered with the payment's current state. The deadline is exp (else
// polling.cancel_after), shortened where it would leave no time to cancel
// within Alipay's cancel window (fitDeadline).
func (a *Agent) handlePays(ps []pay, now time.Time) []reply {
	payments := make([]queue.Payment, len(ps))
	exps := make([]time.Duration, len(ps))
	shortened := make([]bool, len(ps))
	for i, m := range ps {
		exps[i] = m.exp
		if exps[i] <= 0 {
			exps[i] = a.opts.CancelAfter
		}
		var deadline time.Time
		deadline, shortened[i] = fitDeadline(now, exps[i])
		payments[i] = queue.Payment{
			RequestID: m.req, PaymentID: m.pid, Amount: m.amt, Currency: m.cur, Lane: m.lane,
			AcceptedAt: now, Deadline: deadline,
		}
	}
	// New payments need a store without faults and room for them
	// (docs/design.md, "Storage faults"); a repeated one is answered from
	// what is stored.
	admit := func(fresh int) error {
		if err := a.roomForPay(now, fresh); err != nil {
			return refusal{err}
		}
		return nil
	}
	replies := make([]reply, len(ps))
	for i, acc := range a.store.AcceptAll(payments, admit) {
		replies[i] = a.accepted(ps[i].req, acc, exps[i], shortened[i], now)
	}
	return replies
}

// refusal is why the store may take no new payment (roomForPay), as
// opposed to a commit that failed.
type refusal struct{ err error }

func (r refusal) Error() string { return r.err.Error() }

// answerPays sends the STATUS of each of replies, in order, then does what
// follows each (reply.after).
func (a *Agent) answerPays(replies []reply) {
	for _, rep := range replies {
		a.enqueue(statusMessage(rep), a.onStatusAcked(rep.req))
	}
	for _, rep := range replies {
		if rep.after != nil {
			rep.after()
		}
	}
}

// accepted takes what the store did with the PAY of req (acc), whose
// deadline was asked as exp and shortened or not, and returns the STATUS
// that answers it.
func (a *Agent) accepted(req string, acc queue.Accepted, exp time.Duration, shortened bool, now time.Time) reply {
	p, err := acc.Payment, acc.Err
	switch {
	case errors.Is(err, queue.ErrConflict):
		return reply{req: req, state: device.StateRejected, code: device.CodeConflict, msg: "req: already used with another amt, cur or pid", after: func() {
			a.log.Warn().Err(err).Str("req", req).Msg("PAY rejected: the request id is known with other payment details")
		}}
	case errors.As(err, new(refusal)):
		return reply{req: req, state: device.StateRejected, code: device.CodeStorageError, msg: "payment store unavailable; try again later", after: func() {
			a.log.Error().Str("req", req).Str("why", err.Error()).Msg("PAY rejected: the payment store cannot take it; the register may send it again")
		}}
	case err != nil:
		a.storeTrouble(err)
		a.countStoreError()
		return reply{req: req, state: device.StateRejected, code: device.CodeStorageError, msg: "payment could not be stored; try again", after: func() {
			a.log.Error().Err(err).Str("req", req).Msg("PAY rejected: it could not be stored; the register may send it again")
		}}
	}
	var after func()
	if acc.Created {
		a.schedule(p.RequestID, p.NextAt, now)
		a.holdFirstCall(p.RequestID)
		after = func() {
			a.log.Info().Str("req", p.RequestID).Str("pid", p.PaymentID).Int64("amt", p.Amount).Str("cur", p.Currency).
				Str("lane", p.Lane).Time("deadline", p.Deadline).Msg("payment accepted")
			if shortened {
				a.log.Info().Str("req", p.RequestID).Str("asked", exp.String()).Time("deadline", p.Deadline).
					Msg("deadline shortened to leave time to cancel before Alipay's cancel window ends at 00:15 UTC+8")
			}
			a.setState(func(s *Snapshot) { s.Accepted++ })
		}
	}
	if !p.State.Final() {
		return reply{req: p.RequestID, state: device.StateAccepted, after: after}
	}
	r := a.stateOf(&p)
	r.after = after
	return r
}

// handleCancel answers a register CANCEL: a payment being polled is
// cancelled (the decision committed before the answer), a final one is
// answered with its state and left alone.
func (a *Agent) handleCancel(req string, now time.Time) (reply, bool) {
	p, err := a.store.Get(req)
	if err != nil {
		return a.missing(req, "CANCEL", err)
	}
	if p.State == queue.Pending {
		if err := a.store.StartCancel(req, device.CodeRegisterCancel, now); err != nil {
			a.storeError(req, "start the cancel", err)
			return reply{}, false
		}
		a.log.Info().Str("req", req).Str("reason", device.CodeRegisterCancel).Msg("register asked to cancel")
		if !a.table.inFlight(req) {
			a.schedule(req, now, now)
		}
		p.State = queue.Cancelling
	}
	return a.stateOf(&p), true
}

// handleQuery answers a register QUERY with the payment's state.
func (a *Agent) handleQuery(req string) (reply, bool) {
	p, err := a.store.Get(req)
	if err != nil {
		return a.missing(req, "QUERY", err)
	}
	return a.stateOf(&p), true
}

// handleDone records that the register has the RESULT of req and takes it
// out of the outbox. A DONE for an unknown or unfinished payment is ignored.
func (a *Agent) handleDone(req string, now time.Time) {
	err := a.store.Deliver(req, now)
	switch {
	case errors.Is(err, queue.ErrNotFound), errors.Is(err, queue.ErrNotFinal):
		a.log.Debug().Str("req", req).Err(err).Msg("DONE ignored")
		return
	case err != nil:
		a.storeError(req, "record the DONE", err)
		return
	}
	if _, ok := a.resend[req]; ok {
		delete(a.resend, req)
		a.log.Info().Str("req", req).Msg("result delivered")
		a.setState(func(s *Snapshot) { s.Delivered++ })
	}
}

// missing answers a request for a payment the store could not return:
// UNKNOWN when there is none, nothing when the store failed (the register
// asks again after its T3).
func (a *Agent) missing(req, what string, err error) (reply, bool) {
	if errors.Is(err, queue.ErrNotFound) {
		return reply{req: req, state: device.StateUnknown}, true
	}
	a.log.Error().Err(err).Str("req", req).Msgf("cannot read the payment to answer a %s; the register will ask again", what)
	return reply{}, false
}

// stateOf is the STATUS of payment p.
func (a *Agent) stateOf(p *queue.Payment) reply {
	if p.State.Final() {
		return reply{req: p.RequestID, state: string(p.State), final: p}
	}
	return reply{req: p.RequestID, state: string(p.State)}
}
