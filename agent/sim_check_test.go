package agent

// The invariants the simulation checks after every step. They are written
// from the outside: what the register was sent, which calls the agent made
// and when, what the verified answers it got said, and Alipay's hidden truth.
// None of them reads the agent's internals (the stall check asks the store,
// through the driver, whether a payment it suspects is final).

import (
	"fmt"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/device"
)

// The invariants, by the name a violation is reported under.
const (
	// SUCCESS only when a verified inquiry said SUCCESS with the PAY's amount
	// and currency (DESIGN.md rule 3).
	invSuccessProof = "success-needs-proof"
	// FAIL or CANCELLED only from a verified FAIL/CANCELLED inquiry, a verified
	// S cancel, the ORDER_NOT_EXIST grace rule or the amount-mismatch rule
	// (rule 8).
	invUnpaidProof = "unpaid-needs-proof"
	// A payment that is paid at Alipay and not cancelled is never reported
	// FAIL or CANCELLED (but for FAIL AMOUNT_MISMATCH, flagged for a person).
	invPaidKept = "paid-never-reported-unpaid"
	// A payment reported SUCCESS is never refunded by the agent's cancel.
	invNoRefundOfSuccess = "success-never-refunded"
	// One final state per payment: every RESULT and final STATUS for a req
	// carries the same fields, and no STATUS after it says it is not final.
	invOneFinal = "one-final-state"
	// A final RESULT goes to the register again at least every 30 s while the
	// link is up, until the register confirms it with DONE.
	invResend = "result-resent-until-done"
	// No payment is called more than once per 500 ms of monotonic time once
	// its first minute is over (rule 9).
	invPace = "call-pace-500ms"
	// A payment not final keeps being worked on: its next call starts within
	// the longest pace of any mode (late mode, backoff cap), measured on the
	// monotonic clock, whatever the wall clock did (rule 9, item 6).
	invNoStall = "no-stall"
	// A cancel the agent starts because the deadline passed is preceded by an
	// inquiry made at or after the deadline, whose answer was taken (item 5).
	invLookFirst = "inquiry-before-deadline-cancel"
	// After a verified CANCEL_WINDOW_EXCEED the payment is not cancelled again
	// (item 3).
	invWindowExceeded = "no-cancel-after-window-exceeded"
	// After a refused cancel (any verified F) the next cancel waits with
	// backoff: about one polling interval after the first refusal, doubling
	// with each further refusal up to 1 min (item 4); 25 % jitter allowed.
	invRefusalPaced = "refused-cancel-paced"
	// The loop never asks to be woken at once again and again at one instant.
	invBusyLoop = "no-busy-loop"
	// A history must end within its step budget.
	invRunaway = "bounded-history"
)

// Timing limits of the invariants.
const (
	simPaceMin     = 500 * time.Millisecond
	simFirstMinute = time.Minute
	// simStallLimit is the longest pace of any mode (late mode 20 x 3 s, the
	// 1 min backoff cap plus its 25 % jitter) with some margin.
	simStallLimit = 90 * time.Second
	// simResendSlack is how late a RESULT resend may be.
	simResendSlack = 5 * time.Second
	// simAbsentGrace is polling.absent_grace's default.
	simAbsentGrace = 2 * time.Minute
)

// simSaidAt is a verified answer the agent took, and when.
type simSaidAt struct {
	at time.Duration
	simSaid
}

// simPayState is what the checker knows of one payment.
type simPayState struct {
	req          string
	pay          device.Pay
	accepted     time.Duration // mono time of the first PAY the agent got
	deadline     time.Time     // the agent's wall clock then, plus the PAY's exp, fitted to the cancel window
	regCancel    bool          // the register sent CANCEL
	inflight     int           // calls of it in flight at Alipay
	lastCall     time.Duration // mono start of its last call; -1: none
	lastActivity time.Duration // last call answered, or acceptance
	said         []simSaidAt
	looked       bool           // an inquiry started at or after the deadline was answered
	cancelled    bool           // the agent has made a cancel call
	mismatch     bool           // a verified SUCCESS with another amount was taken
	exceeded     bool           // a verified CANCEL_WINDOW_EXCEED was taken
	refusedAt    time.Duration  // when the last cancel was refused; -1: it was not
	refusals     int            // cancels of it refused so far
	final        *device.Result // the first final state the register saw
	finalAt      time.Duration  // when it first saw it (or the store said so)
	storedFinal  bool           // the store says final though no message showed it
	lastResult   time.Duration
	done         bool // the register confirmed the RESULT
}

// simViolation is one broken invariant.
type simViolation struct {
	inv, req, msg string
	at            time.Duration
}

func (v simViolation) String() string {
	return fmt.Sprintf("%s at %.3fs: %s: %s", v.inv, v.at.Seconds(), v.req, v.msg)
}

// simChecker checks the invariants of one history.
type simChecker struct {
	h          *simHistory
	pays       map[string]*simPayState
	order      []string // reqs in the order first paid, for determinism
	violations []simViolation
	seen       map[string]bool // inv+req already reported
	linkSince  time.Duration   // when the link last came up to a running agent
	upSince    time.Duration   // when the agent last started
}

func newSimChecker(h *simHistory) *simChecker {
	return &simChecker{h: h, pays: map[string]*simPayState{}, seen: map[string]bool{}}
}

// fail records a violation, once per invariant and payment.
func (c *simChecker) fail(inv, req, format string, args ...any) {
	if c.seen[inv+"\x00"+req] {
		return
	}
	c.seen[inv+"\x00"+req] = true
	v := simViolation{inv: inv, req: req, msg: fmt.Sprintf(format, args...), at: c.h.clock.Mono()}
	c.violations = append(c.violations, v)
	c.h.trace.add("VIOLATION %s", v)
}

// toAgent notes a message the register handed the agent.
func (c *simChecker) toAgent(m device.Message) {
	now := c.h.clock.Mono()
	switch m := m.(type) {
	case device.Pay:
		if c.pays[m.Req] != nil {
			return
		}
		exp := m.Expiry
		if exp <= 0 {
			exp = simPolling.CancelAfter
		}
		// The agent cuts a deadline that would fall after Alipay's cancel
		// window (docs/register-protocol.md); the check holds it to the
		// deadline it promises, cut the same way.
		deadline, _ := fitDeadline(c.h.clock.Wall(), exp)
		c.pays[m.Req] = &simPayState{req: m.Req, pay: m, accepted: now, deadline: deadline,
			lastCall: -1, lastActivity: now, refusedAt: -1}
		c.order = append(c.order, m.Req)
	case device.Cancel:
		if p := c.pays[m.Req]; p != nil {
			p.regCancel = true
		}
	case device.Done:
		if p := c.pays[m.Req]; p != nil && p.final != nil {
			p.done = true
		}
	}
}

// started notes a call the agent started, at the wall reading wall.
func (c *simChecker) started(call simCall) {
	p := c.pays[call.Req]
	if p == nil {
		c.fail(invUnpaidProof, call.Req, "the agent called Alipay about a payment the register never sent")
		return
	}
	now := c.h.clock.Mono()
	if p.lastCall >= 0 && now-p.lastCall < simPaceMin && now-p.accepted > simFirstMinute {
		c.fail(invPace, p.req, "call #%d started %s after the previous call of this payment", call.ID, (now - p.lastCall).Round(time.Millisecond))
	}
	if call.Cancel {
		if !p.cancelled && !p.regCancel && !p.mismatch && !p.looked {
			c.fail(invLookFirst, p.req, "cancel #%d started for the deadline (%s) without an inquiry answered since the deadline",
				call.ID, p.deadline.Format("15:04:05"))
		}
		if p.exceeded {
			c.fail(invWindowExceeded, p.req, "cancel #%d started after Alipay answered CANCEL_WINDOW_EXCEED", call.ID)
		}
		if p.refusedAt >= 0 {
			pace := simPolling.Interval
			for i := 1; i < p.refusals && pace < time.Minute; i++ {
				pace *= 2
			}
			if need := min(pace, time.Minute) * 3 / 4; now-p.refusedAt < need {
				c.fail(invRefusalPaced, p.req, "cancel #%d started %s after refusal %d of a cancel; backoff asks at least %s",
					call.ID, (now - p.refusedAt).Round(time.Millisecond), p.refusals, need)
			}
		}
		p.cancelled = true
		p.refusedAt = -1
	}
	p.lastCall = now
	p.inflight++
}

// answered notes the answer to a call handed to the agent: wall is the
// agent's wall reading when the call started, said what a verified answer
// said (nil when the answer was not verified).
func (c *simChecker) answered(call simCall, wall time.Time, said *simSaid) {
	p := c.pays[call.Req]
	if p == nil {
		return
	}
	now := c.h.clock.Mono()
	p.inflight--
	p.lastActivity = now
	if !call.Cancel && !wall.Before(p.deadline) {
		p.looked = true
	}
	if said == nil {
		return
	}
	p.said = append(p.said, simSaidAt{at: now, simSaid: *said})
	switch {
	case said.cancel && said.resultStatus == "F":
		p.refusedAt = now
		p.refusals++
		if said.code == "CANCEL_WINDOW_EXCEED" {
			p.exceeded = true
		}
	case !said.cancel && said.paymentStatus == alipay.StatusSuccess && !said.amountOK:
		p.mismatch = true
	}
}

// lost notes a call lost at a crash.
func (c *simChecker) lost(call simCall) {
	if p := c.pays[call.Req]; p != nil {
		p.inflight--
	}
}

// restarted notes a new agent process.
func (c *simChecker) restarted() { c.upSince = c.h.clock.Mono() }

// linkUp notes the link up to a running agent.
func (c *simChecker) linkUp() { c.linkSince = c.h.clock.Mono() }

// fromAgent checks a message the register got from the agent.
func (c *simChecker) fromAgent(m device.Message) {
	var (
		req string
		fin *device.Result
	)
	switch m := m.(type) {
	case device.Status:
		req = m.Req
		if device.IsFinal(m.State) {
			fin = &device.Result{Req: m.Req, Status: m.State, PID: m.PID, Amount: m.Amount, Currency: m.Currency,
				Code: m.Code, Msg: m.Msg, Time: m.Time}
		} else if p := c.pays[req]; p != nil && p.final != nil && m.State != device.StateRejected {
			c.fail(invOneFinal, req, "STATUS %s after the final %s", m.State, p.final.Status)
		}
	case device.Result:
		req, fin = m.Req, &m
	}
	p := c.pays[req]
	if fin == nil || p == nil {
		return
	}
	if _, ok := m.(device.Result); ok {
		p.lastResult = c.h.clock.Mono()
	}
	if p.final != nil {
		if *fin != *p.final {
			c.fail(invOneFinal, req, "%+v after %+v", *fin, *p.final)
		}
		return
	}
	p.final, p.finalAt = fin, c.h.clock.Mono()
	c.prove(p)
}

// prove checks that the first final state of p was earned by the answers
// the agent took.
func (c *simChecker) prove(p *simPayState) {
	f := p.final
	switch f.Status {
	case device.StateSuccess:
		for _, s := range p.said {
			if !s.cancel && s.paymentStatus == alipay.StatusSuccess && s.amountOK {
				return
			}
		}
		c.fail(invSuccessProof, p.req, "SUCCESS without a verified SUCCESS for %d %s", p.pay.Amount, p.pay.Currency)
		return
	}
	for _, s := range p.said {
		switch {
		case !s.cancel && (s.paymentStatus == alipay.StatusFail || s.paymentStatus == alipay.StatusCancelled):
			return
		case s.cancel && s.resultStatus == "S":
			return
		case f.Code == device.CodeAmountMismatch && !s.cancel && s.paymentStatus == alipay.StatusSuccess && !s.amountOK:
			return
		}
	}
	if f.Status == device.StateFail && f.Code == "ORDER_NOT_EXIST" && c.graceKept(p) {
		return
	}
	c.fail(invUnpaidProof, p.req, "%s %s without proof; verified answers taken: %s", f.Status, f.Code, p.saidList())
}

// graceKept reports whether the ORDER_NOT_EXIST grace rule allows p's FAIL:
// a cancel refused with ORDER_NOT_EXIST at least polling.absent_grace
// before, and no verified answer since that knew the payment.
func (c *simChecker) graceKept(p *simPayState) bool {
	for i, s := range p.said {
		if !s.cancel || s.code != "ORDER_NOT_EXIST" || p.finalAt-s.at < simAbsentGrace {
			continue
		}
		known := false
		for _, later := range p.said[i:] {
			known = known || later.resultStatus == "S"
		}
		if !known {
			return true
		}
	}
	return false
}

func (p *simPayState) saidList() string {
	if len(p.said) == 0 {
		return "none"
	}
	said, out := p.said, ""
	if len(said) > 6 {
		out = fmt.Sprintf("%d earlier, then ", len(said)-6)
		said = said[len(said)-6:]
	}
	for i, s := range said {
		if i > 0 {
			out += ", "
		}
		out += s.String()
	}
	return out
}

// step checks the invariants that hold at every instant.
func (c *simChecker) step() {
	now := c.h.clock.Mono()
	truthNow := c.h.clock.True()
	for _, req := range c.order {
		p := c.pays[req]
		truth := c.h.alipay.truths[req]
		if p.final != nil && truth != nil {
			switch {
			case p.final.Status == device.StateSuccess && truth.refunded(truthNow):
				c.fail(invNoRefundOfSuccess, req, "reported SUCCESS but the customer was refunded by a cancel")
			case p.final.Status != device.StateSuccess && truth.paidNotCancelled(truthNow) &&
				(p.final.Status != device.StateFail || p.final.Code != device.CodeAmountMismatch):
				c.fail(invPaidKept, req, "reported %s %s but the customer paid and nothing was cancelled", p.final.Status, p.final.Code)
			}
		}
		if !c.h.running() {
			continue
		}
		if (p.final != nil || p.storedFinal) && !p.done && c.h.linkReady() {
			last := max(p.lastResult, p.finalAt, c.linkSince)
			if now-last > simResendAfter+simResendSlack {
				c.fail(invResend, req, "no RESULT for %s while the link was up and no DONE came", (now - last).Round(time.Second))
			}
		}
		if p.final == nil && !p.storedFinal && p.inflight == 0 {
			idle := now - max(p.lastActivity, p.lastCall, c.upSince)
			if idle > simStallLimit {
				if final, err := c.h.agent.final(req); err == nil && final {
					p.storedFinal, p.finalAt = true, now
					continue
				}
				c.fail(invNoStall, req, "no call for %s of monotonic time while not final", idle.Round(time.Second))
			}
		}
	}
}
