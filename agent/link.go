package agent

import (
	"context"

	"github.com/posagent/posagent/device"
)

// Link is the serial link to the cash register (*device.Line).
type Link interface {
	// Run opens the port and keeps the link up until ctx ends.
	Run(ctx context.Context) error
	// Events delivers what the register sent, already acknowledged, and the
	// link's changes of state.
	Events() <-chan device.Event
	// Post queues an application message for the register without
	// waiting, and calls acked, when not nil, once the register has
	// acknowledged it; a message it never acknowledges goes without the
	// call.
	Post(m device.Message, acked func()) error
}

// fromDevice turns one of the link's events into the request the agent acts
// on. Messages only the agent sends, or that need nothing of it, are ignored.
func fromDevice(ev device.Event) request {
	switch ev := ev.(type) {
	case device.Received:
		switch m := ev.Msg.(type) {
		case device.Pay:
			return request{kind: reqPay, req: m.Req, pay: pay{
				req: m.Req, pid: m.PID, amt: m.Amount, cur: m.Currency, lane: m.Lane, exp: m.Expiry,
			}}
		case device.Cancel:
			return request{kind: reqCancel, req: m.Req}
		case device.Query:
			return request{kind: reqQuery, req: m.Req}
		case device.Done:
			return request{kind: reqDone, req: m.Req}
		}
	case device.Invalid:
		if ev.Type == device.TypePay && ev.Err != nil {
			return request{kind: reqInvalidPay, req: ev.Req, invalid: ev.Err.Error()}
		}
		if ev.Type == device.TypePay {
			return request{kind: reqInvalidPay, req: ev.Req, invalid: "payload: fields break the protocol's rules"}
		}
		// An invalid CANCEL or QUERY has no req to look up; the protocol
		// defines no answer but REJECTED for a PAY.
		if ev.Type == device.TypeCancel || ev.Type == device.TypeQuery {
			return request{kind: reqUnknownReq, req: ev.Req}
		}
	case device.HelloDone:
		return request{kind: reqHello}
	case device.LinkUp:
		return request{kind: reqLinkUp, device: ev.Port, usb: ev.USB}
	case device.LinkDown:
		why := ""
		if ev.Err != nil {
			why = ev.Err.Error()
		}
		return request{kind: reqLinkDown, err: why}
	case device.OpenFailed:
		why := ""
		if ev.Err != nil {
			why = ev.Err.Error()
		}
		return request{kind: reqOpenFailed, err: why}
	}
	return request{kind: reqIgnore}
}
