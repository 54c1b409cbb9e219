package agent

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/queue"
)

// Alipay result codes the agent acts on. codeNotExist is also the RESULT
// code of a payment ended by the ORDER_NOT_EXIST grace rule.
const (
	codeNotExist       = "ORDER_NOT_EXIST"
	codeWindowExceeded = "CANCEL_WINDOW_EXCEED"
)

// Follow-up reasons, stored with the payment and shown to a person.
const (
	followUpLate     = "past Alipay's cancel window without a final state"
	followUpWindow   = "past Alipay's cancel window: if it ends paid and the sale did not happen, refund it in the Antom portal"
	followUpMismatch = "Alipay reported another amount or currency and refused the cancel"
	followUpNotExist = "Alipay has no record of this payment: check the register's own payment and the Antom portal"
)

// Pacing of calls after the kinds of failure.
const (
	maxBackoff       = time.Minute      // cap for refusals, rate limiting and network failures
	operatorPause    = 30 * time.Second // between calls while a person must fix the setup
	operatorLogEvery = 5 * time.Minute  // one error line at most this often
	lateFactor       = 20               // past the cancel window: ask every 20 polling intervals
)

// apply takes the outcome of one Alipay call: it decides what the answer
// means for the payment (step), commits that decision in one transaction,
// and only then sends anything because of it (commit). An outcome whose
// commit failed comes back here from dispatch with again set.
func (a *Agent) apply(o outcome) {
	req := o.ref.PaymentRequestID
	a.table.end(req, a.mono(), !o.again)
	if !o.again {
		a.observe(o)
		a.watch(o)
		defer a.noteCall(o) // after the commit, so that watchers see the store changed
	}
	now := a.now()
	p, err := a.store.Get(req)
	if err != nil {
		a.storeFailed(req, &o, "read the payment", err, now)
		return
	}
	if p.State.Final() {
		a.forget(req) // only the loop finishes payments, and never one with a call in flight
		return
	}
	a.commit(&p, o, a.step(&p, o, now), now)
}

// step decides what outcome o means for payment p at now. It changes
// nothing; commit stores the decision.
func (a *Agent) step(p *queue.Payment, o outcome, now time.Time) queue.Step {
	t := p.Track
	st := queue.Step{Track: &t}
	if o.act == actLate {
		st.FollowUp = followUpLate
	}
	if o.act == actCancel {
		st.Event = callEvent(queue.CallCancel, o)
		a.cancelled(p, o, &st, now)
	} else {
		st.Event = callEvent(queue.CallInquiry, o)
		a.inquired(p, o, &st, now)
	}
	return st
}

// learn adds a verified answer of class c (with result code code) about
// payment req to what t knows: ORDER_NOT_EXIST counts as absent, and after
// a refused cancel starts or lengthens the run the grace rule measures (by
// the monotonic time since the run's previous answer); any other answer
// about the payment shows that Alipay knows it, which ends that run for
// good. It reports whether the answer was about the payment at all (rate
// limits and credential errors are not).
func (a *Agent) learn(req string, t *queue.Track, c alipay.Class, code string, now time.Time) bool {
	switch {
	case c == alipay.Rejected && code == codeNotExist:
		t.Absent++
		mono := a.mono()
		last, seen := a.absentAt[req]
		a.absentAt[req] = mono
		if t.Refusals == 0 || t.Known {
			return true
		}
		if t.AbsentSince.IsZero() {
			t.AbsentSince, t.AbsentFor = now, 0
		} else if seen {
			t.AbsentFor += mono - last
		}
		return true
	case c == alipay.Final || c == alipay.NotFinal || c == alipay.Rejected:
		t.Known, t.AbsentSince, t.AbsentFor = true, time.Time{}, 0
		delete(a.absentAt, req)
		return true
	}
	return false
}

// absentTooLong reports whether the ORDER_NOT_EXIST grace rule ends the
// payment whose Track is t: a cancel was refused, Alipay never showed that
// it knows the payment (nor may have, in a run that crashed: MaybeKnown),
// and every verified answer for polling.absent_grace since the run began
// was ORDER_NOT_EXIST (the caller has just added one).
func (a *Agent) absentTooLong(t *queue.Track) bool {
	return t.Refusals > 0 && !t.Known && !t.MaybeKnown && !t.AbsentSince.IsZero() && t.AbsentFor >= a.opts.AbsentGrace
}

// notExist ends a payment by the grace rule: FAIL ORDER_NOT_EXIST, flagged
// for a person, in the same step.
func (a *Agent) notExist(p *queue.Payment, st *queue.Step, now time.Time) {
	a.log.Error().Str("req", p.RequestID).Dur("grace", a.opts.AbsentGrace).
		Msg("Alipay has had no record of the payment since its cancel was refused; it ends FAIL ORDER_NOT_EXIST and a person must follow it up")
	st.Result = &queue.Result{Status: queue.Fail, Code: codeNotExist,
		Message: "Alipay has no record of this payment", Time: alipayTime("", now)}
	st.FollowUp = followUpNotExist
}

// inquired decides what an inquiryPayment outcome means.
func (a *Agent) inquired(p *queue.Payment, o outcome, st *queue.Step, now time.Time) {
	t := st.Track
	r := o.inquiry
	class := alipay.ClassOf(r, o.err)
	code := errorCode(o.err)
	about := a.learn(p.RequestID, t, class, code, now)
	if about {
		a.knownAnswer(t)
	}
	// What salvage brought back has been looked at once a verified answer
	// gave the payment's status. A refusal is not enough, ORDER_NOT_EXIST
	// included: the copy may be older than a SUCCESS already reported, and
	// Alipay knowing no such payment may mean the agent asks with another
	// merchant's credentials; a cancel would then refund the customer once
	// they are fixed. Such a payment is asked about until Alipay gives its
	// status; it is flagged for a person already.
	st.Checked = class == alipay.Final || class == alipay.NotFinal
	if r != nil && o.err == nil {
		if at, err := time.Parse(time.RFC3339, r.PaymentCreateTime); err == nil {
			t.CreatedAt = at.UTC()
		}
	}
	// A payment counts once towards the wrong-merchant problem, when its
	// look ends: not again when the store refused to commit the answer and
	// it is applied once more, nor at each unanswered look of a payment
	// salvage brought back, which stays PENDING and looks again.
	if o.act == actLook && !o.again && (st.Checked || !p.Recovered) {
		a.reachedDeadline(p, t)
	}
	switch class {
	case alipay.Final:
		delete(a.failures, p.RequestID)
		switch r.PaymentStatus {
		case alipay.StatusSuccess:
			a.paid(p, o, st, now)
		case alipay.StatusFail:
			st.Result = &queue.Result{
				Status: queue.Fail, PaymentID: r.PaymentID, Code: r.PaymentResultCode,
				Message: r.PaymentResultMessage, Time: alipayTime(r.PaymentTime, now),
			}
		default: // CANCELLED
			code := r.PaymentResultCode
			if p.State == queue.Cancelling {
				code = cancelCode(p, t)
			}
			st.Result = &queue.Result{
				Status: queue.Cancelled, PaymentID: r.PaymentID, Code: code,
				Message: r.PaymentResultMessage, Time: alipayTime(r.PaymentTime, now),
			}
		}
	case alipay.NotFinal, alipay.Rejected:
		delete(a.failures, p.RequestID)
		t.Verify = false // the refused cancel has had its inquiry
		// ORDER_NOT_EXIST ends no payment salvage brought back: see
		// st.Checked above.
		if class == alipay.Rejected && code == codeNotExist && !p.Recovered && a.absentTooLong(t) {
			a.notExist(p, st, now)
			return
		}
		switch {
		case o.act == actLate:
			st.Next = now.Add(a.latePace())
		case o.act == actLook && p.Recovered && !st.Checked:
			// No cancel of a payment salvage brought back before Alipay
			// said where it is.
			st.Next = now.Add(a.opts.Interval)
		case o.act == actLook:
			st.Cancel, st.Event.Note = device.CodeTimeout, noteLookThenCancel
			st.Next = now.Add(a.gap())
		case o.act == actVerify:
			// The next cancel waits longer after each refusal (rule 9).
			st.Event.Note = noteCancelAgain
			st.Next = now.Add(backoff(a.opts.Interval, maxBackoff, t.Refusals+t.Throttled+1, a.rand))
		case p.State == queue.Cancelling:
			st.Next = now // the register asked to cancel while this inquiry was out
		default:
			st.Next = now.Add(a.opts.Interval)
		}
	default:
		wait := a.failed(p, o, st, class, now)
		if o.act == actLook && !p.Recovered {
			// No answer at the deadline: the cancel goes ahead, at the pace
			// the failure allows. A payment salvage brought back waits for
			// a verified answer first.
			st.Cancel, st.Event.Note = device.CodeTimeout, noteLookThenCancel
		}
		st.Next = now.Add(wait)
	}
}

// paid handles a verified SUCCESS. It is final only for the amount and
// currency of the PAY (docs/design.md, rule 3); another amount is cancelled,
// and where no cancel can be made (it was refused, or the window is past)
// the payment ends FAIL with AMOUNT_MISMATCH and is flagged for a person, in
// the same step.
func (a *Agent) paid(p *queue.Payment, o outcome, st *queue.Step, now time.Time) {
	r, t := o.inquiry, st.Track
	want := alipay.Amount{Currency: p.Currency, Value: strconv.FormatInt(p.Amount, 10)}
	// Once an answer reported another amount, a later one with the right
	// amount does not make the payment SUCCESS: Alipay said two things.
	if !r.PaymentAmount.Equal(want) || t.Mismatch {
		a.log.Error().Str("req", p.RequestID).Stringer("want", want).Stringer("got", r.PaymentAmount).
			Msg("Alipay reports the payment paid with another amount or currency; it will not be shown as SUCCESS")
		t.Mismatch = true
		st.Event.Note = "amount or currency differs from the PAY"
		if t.Refusals > 0 || o.act == actLate {
			st.Result = &queue.Result{
				Status: queue.Fail, PaymentID: r.PaymentID, Code: device.CodeAmountMismatch,
				Message: "amount or currency differs from the sale", Time: alipayTime(r.PaymentTime, now),
			}
			st.FollowUp = followUpMismatch
			return
		}
		st.Cancel, st.Next = device.CodeAmountMismatch, now.Add(a.gap())
		return
	}
	if p.State == queue.Cancelling && p.CancelReason != device.CodeTimeout && t.Refusals == 0 && o.act != actLate && !p.Recovered {
		// The register (or an amount mismatch) asked to cancel and no cancel
		// has been refused: the cancel goes ahead (a paid payment is
		// refunded in full). Not so for a payment salvage brought back: its
		// copy may be older than a SUCCESS already reported, so paid is
		// SUCCESS, and it is flagged for a person already.
		st.Event.Note = "paid, but a cancel is under way; cancelling"
		st.Next = now.Add(a.gap())
		return
	}
	st.Result = &queue.Result{
		Status: queue.Success, PaymentID: r.PaymentID, Code: r.PaymentResultCode,
		Message: r.PaymentResultMessage, Time: alipayTime(r.PaymentTime, now),
	}
}

// cancelled decides what a cancel outcome means: S is final; F is a
// refusal, which proves nothing about the money (rule 8): inquiryPayment is
// asked next, and the cancel after that waits longer after each refusal;
// CANCEL_WINDOW_EXCEED ends cancelling for good; no answer means the same
// cancel again.
func (a *Agent) cancelled(p *queue.Payment, o outcome, st *queue.Step, now time.Time) {
	t := st.Track
	class := alipay.CancelClassOf(o.cancel, o.err)
	switch class {
	case alipay.Final:
		delete(a.failures, p.RequestID)
		a.learn(p.RequestID, t, class, "", now)
		a.knownAnswer(t)
		st.Result = cancelledResult(p, t, o.cancel.PaymentID, o.cancel.CancelTime, now)
	case alipay.Rejected:
		delete(a.failures, p.RequestID)
		code := errorCode(o.err)
		t.Refusals++
		t.Verify = true
		a.learn(p.RequestID, t, class, code, now)
		a.knownAnswer(t)
		if code == codeWindowExceeded {
			a.log.Error().Str("req", p.RequestID).
				Msg("Alipay says the payment is past its cancel window; asking inquiryPayment slowly, a person must follow it up")
			t.NoCancel, t.Verify = true, false
			st.FollowUp = followUpWindow
			st.Next = now.Add(a.latePace())
			return
		}
		if code == codeNotExist && a.absentTooLong(t) {
			a.notExist(p, st, now)
			return
		}
		st.Event.Note = noteCancelRefused
		a.log.Warn().Str("req", p.RequestID).Str("code", code).Int("refusals", t.Refusals).
			Msg("Alipay refused the cancel; asking inquiryPayment for the truth")
		st.Next = now.Add(a.opts.Interval)
	default:
		wait := a.failed(p, o, st, class, now)
		if ae, ok := errors.AsType[*alipay.Error](o.err); ok && ae.Verified && ae.ResultStatus == "F" {
			// A rate limit or a credential error refused the cancel too:
			// the next one waits as long as after any refusal.
			t.Throttled++
			wait = max(wait, backoff(a.opts.Interval, maxBackoff, t.Refusals+t.Throttled+1, a.rand))
		}
		st.Next = now.Add(wait)
	}
}

// failed handles a call that got no usable answer and returns how long to
// wait before the next call: unknown outcomes are asked again with the same
// parameters, rate limiting and network failures after a growing pause with
// jitter, and errors only a person can fix after a long pause, logged once
// every few minutes rather than for every call.
func (a *Agent) failed(p *queue.Payment, o outcome, st *queue.Step, class alipay.Class, now time.Time) time.Duration {
	a.failures[p.RequestID]++
	n := a.failures[p.RequestID]
	var wait time.Duration
	switch class {
	case alipay.Operator:
		wait = operatorPause
		if now.Sub(a.lastOperator) >= operatorLogEvery {
			a.lastOperator = now
			a.log.Error().Err(o.err).Str("req", p.RequestID).
				Msg("Alipay refuses posagent's credentials; payments are kept and asked about slowly until the configuration is fixed (check client_id, the key files, key_version and the clock)")
		}
	case alipay.RateLimited:
		wait = backoff(a.opts.Interval, maxBackoff, n+1, a.rand)
	default:
		if answered(o.err) {
			// A U answer, or one that does not verify: AMS is there; ask
			// again with the same parameters at the usual pace.
			wait = a.opts.Interval
		} else {
			// No answer (timeout, connection refused, HTTP 5xx): back off.
			wait = backoff(a.opts.Interval, maxBackoff, n, a.rand)
		}
	}
	if o.act == actLate {
		wait = max(wait, a.latePace())
	}
	a.log.Warn().Err(o.err).Str("req", p.RequestID).Str("call", st.Event.Call).Stringer("class", class).
		Int("failures", n).Str("retry_in", wait.Round(time.Millisecond).String()).Msg("no usable answer from Alipay")
	return wait
}

// latePace is the time between two inquiries of a payment that can no
// longer be cancelled.
func (a *Agent) latePace() time.Duration { return lateFactor * a.opts.Interval }

// cancelledResult is the result of a payment the agent cancelled.
func cancelledResult(p *queue.Payment, t *queue.Track, pid, at string, now time.Time) *queue.Result {
	code := cancelCode(p, t)
	return &queue.Result{
		Status: queue.Cancelled, PaymentID: pid, Code: code,
		Message: cancelMessages[code], Time: alipayTime(at, now),
	}
}

// cancelCode is the RESULT code of a cancelled payment: AMOUNT_MISMATCH when
// an answer reported another amount, else why the cancel was started.
func cancelCode(p *queue.Payment, t *queue.Track) string {
	switch {
	case t.Mismatch:
		return device.CodeAmountMismatch
	case p.CancelReason == "":
		return device.CodeTimeout
	}
	return p.CancelReason
}

var cancelMessages = map[string]string{
	device.CodeRegisterCancel: "cancelled at the register",
	device.CodeTimeout:        "not paid in time",
	device.CodeAmountMismatch: "amount or currency differs from the sale",
}

// callEvent is the audit entry of an outcome. An answer whose signature
// verified has its resultStatus and code and no Error; a call without one
// has Error set.
func callEvent(call string, o outcome) queue.Event {
	e := queue.Event{Call: call}
	switch {
	case o.inquiry != nil && o.err == nil:
		e.ResultStatus, e.Code, e.PaymentStatus = o.inquiry.Result.Status, o.inquiry.Result.Code, o.inquiry.PaymentStatus
	case o.cancel != nil && o.err == nil:
		e.ResultStatus, e.Code = o.cancel.Result.Status, o.cancel.Result.Code
	case o.err != nil:
		if ae, ok := errors.AsType[*alipay.Error](o.err); ok {
			e.Code = ae.Code
			if ae.Class == alipay.Rejected {
				e.ResultStatus = "F" // a verified refusal is an answer
				return e
			}
		}
		e.Error = o.err.Error()
	}
	return e
}

// errorCode is the AMS result code in err, if any.
func errorCode(err error) string {
	if ae, ok := errors.AsType[*alipay.Error](err); ok {
		return ae.Code
	}
	return ""
}

// alipayTime is the RESULT time: Alipay's as given, or now in UTC.
func alipayTime(s string, now time.Time) string {
	if _, err := time.Parse(time.RFC3339, s); err == nil {
		return s
	}
	return now.UTC().Format(time.RFC3339)
}

// displayText makes s fit a customer display: control characters become
// spaces and it is cut to 64 characters (code points).
func displayText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if utf8.RuneCountInString(s) <= 64 {
		return s
	}
	return string([]rune(s)[:64])
}

// hasNote reports whether the "; "-joined notes hold note.
func hasNote(notes, note string) bool {
	for n := range strings.SplitSeq(notes, "; ") {
		if n == note {
			return true
		}
	}
	return false
}

// answered reports whether err came with an HTTP 200 answer from AMS, signed
// or not: the service is up, only this answer proved nothing.
func answered(err error) bool {
	ae, ok := errors.AsType[*alipay.Error](err)
	return ok && (ae.Verified || ae.HTTPStatus == 200)
}
