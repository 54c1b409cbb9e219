package agent

// The invariants the simulation checks after every step. They are written
// from the outside: what the register was sent, which calls the agent made
// and when, what the verified answers it got said, and Alipay's hidden truth.
// None of them reads the agent's internals (the stall check asks the store,
// through the driver, whether a payment it suspects is final).

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/queue"
)

// The invariants, by the name a violation is reported under.
const (
	// SUCCESS only when a verified inquiry said SUCCESS with the PAY's amount
	// and currency (docs/design.md, rule 3).
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
	// The wrong-merchant operator problem stands once 3 payments in a row
	// reached their deadline having had only ORDER_NOT_EXIST answers, no
	// payment having had a verified answer about itself in between; it is
	// clear after the next verified answer naming a payment; it is never
	// raised by fewer payments (item 2).
	invAbsentProblem = "wrong-merchant-problem"
	// The key operator problem stands exactly while the last 5 or more
	// answers were signed answers that did not verify, counted since the
	// last verified answer (item 8).
	invKeyProblem = "bad-key-problem"
	// While the store fails, no call is started for a payment whose answer
	// could not be committed (item 7).
	invUnsavedFirst = "no-call-over-an-unsaved-answer"
	// While the store fails, no payment is called more than once per 30 s
	// (item 7).
	invStorePace = "failing-store-pace-30s"
	// Every final state the register is sent is the one committed in the
	// store (rule 1, item 7), and so it still is after any restart.
	invResultCommitted = "result-is-committed"
	// A payment the register was told was ACCEPTED is never lost: the store
	// holds it at every start, and it is never answered UNKNOWN (except a
	// payment whose every copy a damaged file lost).
	invAcceptedKept = "accepted-never-lost"
	// An unfinished payment salvage brought back gets a verified inquiry
	// answer giving its status (S) before any cancel or RESULT (item 10):
	// ORDER_NOT_EXIST may come from another merchant's credentials, and the
	// copy may be older than a SUCCESS already sent.
	invRecoveredLook = "recovered-verified-first"
)

// Texts that name the operator problems in Snapshot.OperatorProblem.
const (
	simAbsentText = "knows none of this register's payments"
	simKeyText    = "alipay.alipay_public_key_file"
)

// simStorePace is the least time between two calls of a payment while the
// store fails.
const simStorePace = 30 * time.Second

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
	acceptedIn   int           // the agent process that accepted it
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

	acceptWall time.Time // the agent's wall clock at acceptance
	ok         bool      // the agent answered the PAY with a state: it is stored
	// For the wrong-merchant problem: whether a verified answer showed
	// that Alipay knows it (knownAny) and how many verified
	// ORDER_NOT_EXIST answers it had (absentAny; absentSaved those of
	// them taken by a process whose store worked).
	knownAny               bool
	absentAny, absentSaved int
	// For a failing store: the process in which an answer of it could not
	// be committed, and in which (and when) its last call started.
	unsavedIn, calledIn int
	calledAt            time.Duration
	// After damage to the store file: damaged (a copy of its record was
	// destroyed: what the agent knew of it may be lost), lost (no copy
	// is left), rolledBack (the register had a final state and the store
	// lost it), recovered (salvage brought it back unfinished and no
	// verified inquiry answer came since).
	damaged, lost, rolledBack, recovered bool
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

	epoch   int  // the agent process, counted from 1
	failing bool // its store cannot commit
	// The operator problems of the current process, modelled from the
	// answers it took: badRun counts signed answers in a row that did not
	// verify; absentMust holds the payments counted towards the
	// wrong-merchant problem for certain, absentMay every payment the
	// agent may have counted, since the last answer that surely reset the
	// count; known is set in a step that delivered a verified answer
	// naming a payment.
	badRun                int
	absentMust, absentMay map[string]bool
	known                 bool
	absentUp, keyUp       bool // the problems shown after the last step
}

func newSimChecker(h *simHistory) *simChecker {
	return &simChecker{h: h, pays: map[string]*simPayState{}, seen: map[string]bool{},
		absentMust: map[string]bool{}, absentMay: map[string]bool{}}
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
		old := c.pays[m.Req]
		if old != nil && old.ok && !old.lost {
			return
		}
		exp := m.Expiry
		if exp <= 0 {
			exp = simCancelAfter
		}
		// The agent cuts a deadline that would fall after Alipay's cancel
		// window (docs/register-protocol.md); the check holds it to the
		// deadline it promises, cut the same way. A PAY the store refused
		// is accepted, if ever, when the register sends it again.
		deadline, _ := fitDeadline(c.h.clock.Wall(), exp)
		p := &simPayState{req: m.Req, pay: m, accepted: now, acceptedIn: c.epoch, deadline: deadline, acceptWall: c.h.clock.Wall(),
			lastCall: -1, lastActivity: now, refusedAt: -1, unsavedIn: -1, calledIn: -1}
		if old == nil {
			c.order = append(c.order, m.Req)
		} else if old.lost {
			// Every copy of it was lost: the register's PAY makes it anew.
			p.final, p.finalAt, p.rolledBack, p.damaged, p.said = old.final, old.finalAt, old.final != nil, true, old.said
			p.knownAny, p.absentAny = old.knownAny, old.absentAny
		}
		c.pays[m.Req] = p
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
	if c.failing {
		if p.unsavedIn == c.epoch {
			c.fail(invUnsavedFirst, p.req, "call #%d started while the answer to an earlier call could not be committed", call.ID)
		}
		if p.calledIn == c.epoch && now-p.calledAt < simStorePace {
			c.fail(invStorePace, p.req, "call #%d started %s after the previous one while the store fails", call.ID, (now - p.calledAt).Round(time.Millisecond))
		}
		p.calledIn, p.calledAt = c.epoch, now
	}
	if call.Cancel && p.recovered {
		c.fail(invRecoveredLook, p.req, "cancel #%d started before a verified inquiry answer since salvage brought the payment back", call.ID)
	}
	if p.lastCall >= 0 && now-p.lastCall < simPaceMin && now-p.accepted > simFirstMinute {
		c.fail(invPace, p.req, "call #%d started %s after the previous call of this payment", call.ID, (now - p.lastCall).Round(time.Millisecond))
	}
	if call.Cancel {
		if !p.cancelled && !p.regCancel && !p.mismatch && !p.looked {
			c.fail(invLookFirst, p.req, "cancel #%d started for the deadline (%s) without an inquiry answered since the deadline",
				call.ID, p.deadline.Format("15:04:05"))
		}
		if p.exceeded && !p.damaged {
			c.fail(invWindowExceeded, p.req, "cancel #%d started after Alipay answered CANCEL_WINDOW_EXCEED", call.ID)
		}
		if p.refusedAt >= 0 && !p.damaged {
			pace := simInterval
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
// said (nil when the answer was not verified), ans the answer itself.
func (c *simChecker) answered(call simCall, wall time.Time, said *simSaid, ans simAnswer) {
	ae, _ := errors.AsType[*alipay.Error](ans.Err)
	switch {
	case errors.Is(ans.Err, alipay.ErrBadSignature):
		c.badRun++
	case ans.Err == nil || ae != nil && ae.Verified:
		c.badRun = 0
	}
	p := c.pays[call.Req]
	if p == nil {
		return
	}
	now := c.h.clock.Mono()
	p.inflight--
	p.lastActivity = now
	if c.failing {
		p.unsavedIn = c.epoch
		c.h.stats.unsaved++
	}
	c.absent(p, call, wall, said)
	if !call.Cancel && !wall.Before(p.deadline) {
		p.looked = true
	}
	if said == nil {
		return
	}
	if !call.Cancel && said.resultStatus == "S" {
		p.recovered = false // Alipay gave the payment's status
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

// simAboutPayment reports whether a verified answer was about the payment
// asked about: an S answer, or an F that refuses it for what it is (not a
// rate limit or the caller's credentials).
func simAboutPayment(s *simSaid) bool {
	switch {
	case s.resultStatus == "S":
		return true
	case s.resultStatus != "F":
		return false
	}
	return s.code != "REQUEST_TRAFFIC_EXCEED_LIMIT" && s.code != "ACCESS_DENIED"
}

// absent follows the answers that count towards the wrong-merchant problem
// or clear it: the answer to the look at a payment's deadline (an inquiry
// started at or after it) of a payment that had only ORDER_NOT_EXIST
// answers, and any verified answer showing that Alipay knows a payment.
func (c *simChecker) absent(p *simPayState, call simCall, wall time.Time, said *simSaid) {
	notExist := said != nil && said.resultStatus == "F" && said.code == "ORDER_NOT_EXIST"
	known := said != nil && simAboutPayment(said) && !notExist
	look := !call.Cancel && !wall.Before(p.deadline)
	switch {
	case known:
		clear(c.absentMust)
		clear(c.absentMay)
		c.known = true
	case notExist && p.knownAny:
		// The agent knows the payment from an earlier answer and may take
		// this one as naming it.
		clear(c.absentMust)
	}
	if look && !known && (p.absentAny > 0 || notExist) {
		c.absentMay[p.req] = true
	}
	// The agent surely counts the payment at its look when it is still
	// PENDING, inside its cancel window, and every answer about it it
	// committed was ORDER_NOT_EXIST (those taken while the store failed or
	// in a damaged copy may be lost).
	// Only a payment accepted by the running process is certain: one
	// carried over a crash comes back with whatever its stored copy held,
	// which a failing or damaged store may have kept older.
	if look && !p.looked && !known && !p.knownAny && !p.damaged && p.acceptedIn == c.epoch && (p.absentSaved > 0 || notExist) &&
		!p.regCancel && !p.cancelled && !p.mismatch && wall.Before(simWindowEnd(p.acceptWall)) {
		c.absentMust[p.req] = true
	}
	if known {
		p.knownAny = true
	}
	if notExist {
		p.absentAny++
		if !c.failing {
			p.absentSaved++
		}
	}
}

// restarted notes a new agent process, on a failing store or not, and
// compares what the register was told with what the store holds. damaged
// is the payment whose record copies were damaged before it started ("":
// none).
func (c *simChecker) restarted(failing bool, damaged string) {
	c.upSince = c.h.clock.Mono()
	c.epoch++
	c.failing = failing
	if failing {
		c.h.stats.failingRuns++
	}
	c.badRun = 0
	clear(c.absentMust)
	clear(c.absentMay)
	c.known, c.absentUp, c.keyUp = false, false, false
	if p := c.pays[damaged]; p != nil {
		p.damaged = true
	}
	for _, req := range c.order {
		p := c.pays[req]
		if !p.ok {
			continue
		}
		rec, err := c.h.agent.get(req)
		switch {
		case errors.Is(err, queue.ErrNotFound) && p.damaged:
			p.lost, p.rolledBack, p.done = true, p.final != nil, false
			continue
		case err != nil:
			c.fail(invAcceptedKept, req, "the store does not return the accepted payment at start: %v", err)
			continue
		}
		p.recovered = rec.Recovered
		if p.final == nil {
			continue
		}
		if !rec.State.Final() && p.damaged && !p.rolledBack {
			p.rolledBack, p.done = true, false
			c.h.stats.rolledBack++
			c.h.trace.add("check: %s was %s for the register and salvage brought it back %s (revision %d)", req, p.final.Status, rec.State, rec.Revision)
			continue
		}
		if !p.rolledBack {
			c.committed(p, p.final, &rec)
		}
	}
}

// committed checks that the final state fin the register got for p is the
// one the store holds as rec.
func (c *simChecker) committed(p *simPayState, fin *device.Result, rec *queue.Payment) {
	pid := rec.Result.PaymentID
	if pid == "" {
		pid = rec.PaymentID
	}
	stored := device.Result{Req: rec.RequestID, Status: string(rec.State), PID: pid, Amount: rec.Amount, Currency: rec.Currency,
		Code: rec.Result.Code, Msg: rec.Result.Message, Time: rec.Result.Time}
	if !rec.State.Final() || stored != *fin {
		c.fail(invResultCommitted, p.req, "the register got %+v; the store holds %s %+v", *fin, rec.State, stored)
	}
}

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
		p := c.pays[req]
		switch {
		case p == nil:
		case m.State == device.StateUnknown:
			if p.ok && !p.lost {
				c.fail(invAcceptedKept, req, "STATUS UNKNOWN for a payment the register was told was accepted")
			}
		case m.State != device.StateRejected:
			p.ok = true
			p.lost = false
		}
		if device.IsFinal(m.State) {
			fin = &device.Result{Req: m.Req, Status: m.State, PID: m.PID, Amount: m.Amount, Currency: m.Currency,
				Code: m.Code, Msg: m.Msg, Time: m.Time}
		} else if p != nil && p.final != nil && m.State != device.StateRejected && !p.lost && !p.rolledBack {
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
	if p.recovered {
		c.fail(invRecoveredLook, req, "%s %s sent before a verified inquiry answer since salvage brought the payment back", fin.Status, fin.Code)
	}
	if rec, err := c.h.agent.get(req); err != nil {
		c.fail(invResultCommitted, req, "%s %s sent, and the store does not return the payment: %v", fin.Status, fin.Code, err)
	} else {
		c.committed(p, fin, &rec)
	}
	if p.final != nil && p.rolledBack {
		// Salvage brought back an older copy of a payment that was final:
		// the agent, which cannot know the state it had reported, found it
		// again from Alipay's answers. Its RESULT may differ in code,
		// message and time (CANCELLED TIMEOUT and CANCELLED
		// ORDER_IS_CANCELED, a time read now), never in whether the
		// customer paid.
		old := p.final
		p.final, p.finalAt, p.rolledBack = fin, c.h.clock.Mono(), false
		// One exception: a FAIL ORDER_NOT_EXIST ended by the grace rule
		// is the rule's accepted risk, not proof; a verified SUCCESS found
		// after the salvage (checked by the proof invariants) corrects it.
		corrected := old.Status == device.StateFail && old.Code == codeNotExist && fin.Status == device.StateSuccess
		if !corrected && (old.Status == device.StateSuccess) != (fin.Status == device.StateSuccess) {
			c.fail(invOneFinal, req, "%s %s after %s %s, once salvage brought back an older copy", fin.Status, fin.Code, old.Status, old.Code)
		} else if *fin != *old {
			c.h.stats.rewritten++
			c.h.trace.add("check: %s ends %+v after %+v, once salvage brought back an older copy", req, *fin, *old)
		}
		c.prove(p)
		return
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
// before, and no verified answer the agent took, before or since, that
// knew the payment: once Alipay showed it knows the payment, however long
// ago and whatever crash came between, ORDER_NOT_EXIST proves nothing.
func (c *simChecker) graceKept(p *simPayState) bool {
	for _, s := range p.said {
		if s.resultStatus == "S" {
			return false
		}
	}
	for _, s := range p.said {
		if s.cancel && s.code == "ORDER_NOT_EXIST" && p.finalAt-s.at >= simAbsentGrace {
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
				(p.final.Status != device.StateFail || p.final.Code != device.CodeAmountMismatch) &&
				// The grace rule's known risk: an agent set up for another
				// merchant sees the payment nowhere; it is flagged for a
				// person, and the wrong-merchant problem names the cause.
				(!truth.unseen || p.final.Status != device.StateFail || p.final.Code != codeNotExist):
				c.fail(invPaidKept, req, "reported %s %s but the customer paid and nothing was cancelled", p.final.Status, p.final.Code)
			}
		}
		if !c.h.running() {
			continue
		}
		if !p.ok || p.lost {
			continue
		}
		if (p.final != nil || p.storedFinal) && !p.done && !p.rolledBack && c.h.linkReady() {
			last := max(p.lastResult, p.finalAt, c.linkSince)
			if now-last > simResendAfter+simResendSlack {
				c.fail(invResend, req, "no RESULT for %s while the link was up and no DONE came", (now - last).Round(time.Second))
			}
		}
		if p.final == nil && !p.storedFinal && p.inflight == 0 && !c.failing {
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
	if c.h.running() {
		c.problems()
	}
}

// problems checks the operator problems the agent shows against the
// answers it took.
func (c *simChecker) problems() {
	shown := c.h.agent.problem()
	key, absent := strings.Contains(shown, simKeyText), strings.Contains(shown, simAbsentText)
	switch {
	case key && c.badRun < 5:
		c.fail(invKeyProblem, "-", "the key problem is shown after %d signed answers in a row that did not verify: %q", c.badRun, shown)
	case !key && c.badRun >= 5:
		c.fail(invKeyProblem, "-", "the key problem is not shown after %d signed answers in a row that did not verify", c.badRun)
	}
	switch {
	case absent && c.known:
		c.fail(invAbsentProblem, "-", "the wrong-merchant problem is still shown after a verified answer naming a payment")
	case absent && len(c.absentMay) < 3:
		c.fail(invAbsentProblem, "-", "the wrong-merchant problem is shown though at most %d payments reached their deadline unknown to Alipay since a verified answer naming one", len(c.absentMay))
	case !absent && len(c.absentMust) >= 3:
		c.fail(invAbsentProblem, "-", "the wrong-merchant problem is not shown though %d payments in a row reached their deadline with only ORDER_NOT_EXIST answers", len(c.absentMust))
	}
	c.known = false
	for _, ch := range []struct {
		now      bool
		was      *bool
		up, down *int
	}{{key, &c.keyUp, &c.h.stats.keyUp, &c.h.stats.keyDown}, {absent, &c.absentUp, &c.h.stats.absentUp, &c.h.stats.absentDown}} {
		switch {
		case ch.now && !*ch.was:
			*ch.up++
		case !ch.now && *ch.was:
			*ch.down++
		}
		*ch.was = ch.now
	}
}
