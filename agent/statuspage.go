package agent

import (
	"github.com/posagent/posagent/agent/status"
	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/queue"
)

// pageInfo is what the status page shows besides the agent's own state.
type pageInfo struct {
	version, port, endpoint, clientID, storePath string
	calls                                        *status.Calls
	links                                        *status.LinkCounters
}

// statusSnapshot is the agent's state as the status package shows it; the
// store's counts are filled in by the status server itself.
func (a *Agent) statusSnapshot(info pageInfo) status.Snapshot {
	s := a.Snapshot()
	snap := status.Snapshot{
		Version: info.version,
		Started: s.Started,
		Taken:   a.now(),

		Accepted: s.Accepted,
		Finished: s.Finished,
		Link: status.Link{
			Port:   info.port,
			Device: s.LinkDevice,
			USB:    s.LinkUSB,
			Up:     s.LinkUp,
			Since:  s.LinkSince,
			Error:  s.LinkError,
		},
		Alipay: status.Alipay{Endpoint: info.endpoint, ClientID: info.clientID},
		Store:  status.Store{Open: true, Path: info.storePath, Fault: s.StoreFault, Problem: s.StoreProblem},
	}
	if sp, err := a.store.Space(); err == nil {
		snap.Store.FreeBytes = &sp.Free
	}
	if salvages, err := a.store.Salvages(); err != nil {
		snap.Store.Error = err.Error()
	} else {
		snap.Store.Salvages = statusSalvages(salvages)
	}
	if info.calls != nil {
		info.calls.Fill(&snap.Alipay)
	}
	// The agent's own view of what a person must fix wins over the last
	// call's: it also holds the problems a run of answers shows.
	snap.Alipay.OperatorProblem = s.OperatorProblem
	snap.Alipay.ClockOffsetSeconds = s.ClockOffset.Seconds()
	snap.Alipay.MeasuredClockOffsetSeconds = s.MeasuredClockOffset.Seconds()
	snap.Store.Errors = s.StoreErrors
	if info.links != nil {
		info.links.Fill(&snap.Link)
	}
	return snap
}

// observe reports a finished call to the status page's counters, when there
// is a page.
func (a *Agent) observe(o outcome) {
	if a.opts.Calls == nil {
		return
	}
	kind, class := "inquiry", alipay.ClassOf(o.inquiry, o.err)
	if o.act == actCancel {
		kind, class = "cancel", alipay.CancelClassOf(o.cancel, o.err)
	}
	outcome := "ok"
	if o.err != nil {
		outcome = class.String()
	}
	a.opts.Calls.Observe(status.Call{
		Kind: kind, Request: o.ref.PaymentRequestID, Outcome: outcome,
		Duration: o.took, At: a.now(),
		Answered: o.err == nil || answered(o.err), Operator: class == alipay.Operator, Err: o.err,
	})
}

// statusSalvages is the store's salvage history as the status page shows
// it.
func statusSalvages(salvages []queue.Salvage) []status.Salvage {
	out := []status.Salvage{}
	for _, h := range salvages {
		lost := []string{}
		for _, l := range h.Lost {
			lost = append(lost, l.RequestID)
		}
		out = append(out, status.Salvage{
			Time: h.Time, MovedTo: h.MovedTo, Problem: h.Problem, Saved: h.Saved,
			Recovered: append([]string{}, h.Recovered...), Lost: lost, LostCount: h.LostCount,
			BadPages: h.BadPages, Report: h.Report,
		})
	}
	return out
}
