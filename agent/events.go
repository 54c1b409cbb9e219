package agent

import (
	"context"
	"time"

	"github.com/posagent/posagent/device"
)

// request is what the register sent, as the agent acts on it; register.go
// makes one from each of the link's events.
type request struct {
	what    what
	req     string // the request id as received, for every request
	pay     pay    // a valid PAY
	invalid string // for an invalid PAY: "key: rule"
	err     string // for a link that went down: why
	device  string // for a link that came up: the device opened
	usb     string // and its USB identity, where known
}

// what tells requests apart.
type what int

const (
	reqPay what = iota
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
	switch r.what {
	case reqPay:
		a.enqueue(statusMessage(a.handlePay(r.pay, now)))
	case reqInvalidPay:
		a.log.Warn().Str("req", cut(r.req, maxEchoedReqLen)).Str("problem", r.invalid).Msg("PAY rejected: invalid field")
		a.enqueue(statusMessage(reply{req: r.req, state: device.StateRejected, code: device.CodeInvalidField, msg: r.invalid}))
	case reqCancel:
		if s, ok := a.handleCancel(r.req, now); ok {
			a.enqueue(statusMessage(s))
		}
	case reqQuery:
		if s, ok := a.handleQuery(r.req); ok {
			a.enqueue(statusMessage(s))
		}
	case reqUnknownReq:
		a.enqueue(statusMessage(reply{req: r.req, state: device.StateUnknown}))
	case reqOpenFailed:
		// The line logs the failure itself; the status page shows it.
		a.setState(func(s *Snapshot) { s.LinkError = r.err })
	case reqDone:
		a.handleDone(r.req, now)
	case reqHello:
		a.resendAll(now)
	case reqLinkUp, reqLinkDown:
		up := r.what == reqLinkUp
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

// send hands queued messages to the link one by one until ctx ends. A
// message the link cannot take (it is down) is dropped: the register asks
// again for a STATUS, and RESULTs are resent from the outbox.
func (a *Agent) send(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-a.out:
			sendCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := a.register.Send(sendCtx, m); err != nil && ctx.Err() == nil {
				a.log.Debug().Err(err).Str("type", string(m.Type())).Msg("message not sent")
			}
			cancel()
		}
	}
}
