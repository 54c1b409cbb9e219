package agent

import (
	"context"

	"github.com/posagent/posagent/device"
)

// Register is the serial link to the cash register (*device.Line).
type Register interface {
	// Run opens the port and keeps the link up until ctx ends.
	Run(ctx context.Context) error
	// Events delivers what the register sent, already acknowledged, and the
	// link's changes of state.
	Events() <-chan device.Event
	// Send queues an application message for the register.
	Send(ctx context.Context, m device.Message) error
}

// fromDevice turns one of the link's events into the request the agent acts
// on. Messages only the agent sends, or that need nothing of it, are ignored.
func fromDevice(ev device.Event) request {
	switch ev := ev.(type) {
	case device.Received:
		switch m := ev.Msg.(type) {
		case device.Pay:
			return request{what: reqPay, req: m.Req, pay: pay{
				req: m.Req, pid: m.PID, amt: m.Amount, cur: m.Currency, lane: m.Lane, exp: m.Expiry,
			}}
		case device.Cancel:
			return request{what: reqCancel, req: m.Req}
		case device.Query:
			return request{what: reqQuery, req: m.Req}
		case device.Done:
			return request{what: reqDone, req: m.Req}
		}
	case device.Invalid:
		if ev.Type == device.TypePay && ev.Err != nil {
			return request{what: reqInvalidPay, req: ev.Req, invalid: ev.Err.Error()}
		}
		if ev.Type == device.TypePay {
			return request{what: reqInvalidPay, req: ev.Req, invalid: "payload: fields break the protocol's rules"}
		}
		// An invalid CANCEL or QUERY has no req to look up; the protocol
		// defines no answer but REJECTED for a PAY.
		if ev.Type == device.TypeCancel || ev.Type == device.TypeQuery {
			return request{what: reqUnknownReq, req: ev.Req}
		}
	case device.HelloDone:
		return request{what: reqHello}
	case device.LinkUp:
		return request{what: reqLinkUp, device: ev.Port, usb: ev.USB}
	case device.LinkDown:
		why := ""
		if ev.Err != nil {
			why = ev.Err.Error()
		}
		return request{what: reqLinkDown, err: why}
	case device.OpenFailed:
		why := ""
		if ev.Err != nil {
			why = ev.Err.Error()
		}
		return request{what: reqOpenFailed, err: why}
	}
	return request{what: reqIgnore}
}
