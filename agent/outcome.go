package agent

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/queue"
)

// Cancel reasons, sent as the RESULT code of a payment the agent cancelled.
const (
	reasonRegister = "REGISTER_CANCEL"
	reasonTimeout  = "TIMEOUT"
	reasonMismatch = "AMOUNT_MISMATCH"
)

// Follow-up reasons, stored with the payment and shown to a person.
const (
	followUpLate     = "past Alipay's cancel window without a final state"
	followUpMismatch = "Alipay reported another amount or currency and refused the cancel"
)

// noteMismatch marks in the audit trail the answer that reported another
// amount or currency, so that the cancel it led to ends with that code.
const noteMismatch = "amount or currency differs from the PAY"

// Pacing of calls after the kinds of failure.
const (
	maxBackoff       = time.Minute      // cap for rate limiting and network failures
	operatorPause    = 30 * time.Second // between calls while a person must fix the setup
	operatorLogEvery = 5 * time.Minute  // one error line at most this often
	lateFactor       = 20               // past the cancel window: ask every 20 polling intervals
)

// apply takes the outcome of one Alipay call: it commits what the answer
// means for the payment (a final result with its outbox entry, the decision
// to cancel, or the time of the next call), and only then sends anything.
func (a *Agent) apply(o outcome) {
	req := o.ref.PaymentRequestID
	delete(a.inflight, req)
	a.observe(o)
	defer a.noteCall(o) // after the commit, so that watchers see the store changed
	p, err := a.store.Get(req)
	if err != nil {
		a.storeError(req, "read the payment", err)
		return
	}
	if p.State.Final() {
		return // only the loop finishes payments, and never one with a call in flight
	}
	now := a.now()
	if o.act == actCancel {
		a.applyCancel(&p, o, now)
	} else {
		a.applyInquiry(&p, o, now)
	}
}

// applyInquiry handles an inquiryPayment outcome.
func (a *Agent) applyInquiry(p *queue.Payment, o outcome, now time.Time) {
	e := callEvent(queue.CallInquiry, o)
	r := o.inquiry
	switch class := alipay.ClassOf(r, o.err); class {
	case alipay.Final:
		delete(a.failures, p.RequestID)
		switch r.PaymentStatus {
		case alipay.StatusSuccess:
			a.paid(p, o, e, now)
		case alipay.StatusFail:
			a.finish(p, queue.Result{
				Status: queue.Fail, PaymentID: r.PaymentID, Code: r.PaymentResultCode,
				Message: r.PaymentResultMessage, Time: alipayTime(r.PaymentTime, now),
			}, e)
		default: // CANCELLED
			code := r.PaymentResultCode
			if p.State == queue.Cancelling {
				code = cancelCode(p)
			}
			a.finish(p, queue.Result{
				Status: queue.Cancelled, PaymentID: r.PaymentID, Code: code,
				Message: r.PaymentResultMessage, Time: alipayTime(r.PaymentTime, now),
			}, e)
		}
	case alipay.NotFinal, alipay.Rejected:
		delete(a.failures, p.RequestID)
		if o.act == actVerify && class == alipay.Rejected && errorCode(o.err) == "ORDER_NOT_EXIST" {
			// Alipay refused the cancel and does not know the payment: nothing
			// was taken from the customer.
			a.finish(p, cancelledResult(p, "", "", now), e)
			return
		}
		next := now.Add(a.opts.Polling.Interval)
		switch {
		case o.act == actLate:
			next = now.Add(lateFactor * a.opts.Polling.Interval)
		case o.act == actVerify:
			e.Note = noteCancelAgain
		case p.State == queue.Cancelling:
			next = now // the register asked to cancel while this inquiry was out
		}
		a.record(p, e, next)
	default:
		a.failed(p, o, e, class, now)
	}
}

// paid handles a verified SUCCESS. It is final only for the amount and
// currency of the PAY (DESIGN.md rule 3); another amount is cancelled, and
// where the cancel was already refused the payment ends FAIL with
// AMOUNT_MISMATCH and is flagged for a person.
func (a *Agent) paid(p *queue.Payment, o outcome, e queue.Event, now time.Time) {
	r := o.inquiry
	want := alipay.Amount{Currency: p.Currency, Value: strconv.FormatInt(p.Amount, 10)}
	if !r.PaymentAmount.Equal(want) {
		a.log.Error().Str("req", p.RequestID).Stringer("want", want).Stringer("got", r.PaymentAmount).
			Msg("Alipay reports the payment paid with another amount or currency; it will not be shown as SUCCESS")
		e.Note = noteMismatch
		if o.act == actVerify || o.act == actLate {
			a.finish(p, queue.Result{
				Status: queue.Fail, PaymentID: r.PaymentID, Code: reasonMismatch,
				Message: "amount or currency differs from the sale", Time: alipayTime(r.PaymentTime, now),
			}, e)
			if err := a.store.Flag(p.RequestID, followUpMismatch); err != nil {
				a.storeError(p.RequestID, "flag for follow-up", err)
			}
			a.setState(func(s *Snapshot) { s.FollowUps++ })
			return
		}
		if !a.record(p, e, now) {
			return
		}
		if err := a.store.StartCancel(p.RequestID, reasonMismatch, now); err != nil {
			a.storeError(p.RequestID, "start the cancel", err)
		}
		return
	}
	if p.State == queue.Cancelling && o.act == actInquire {
		// The register sent CANCEL while this inquiry was out: the cashier's
		// cancel goes ahead (a paid payment is refunded in full).
		e.Note = "paid, but the register asked to cancel; cancelling"
		a.record(p, e, now)
		return
	}
	a.finish(p, queue.Result{
		Status: queue.Success, PaymentID: r.PaymentID, Code: r.PaymentResultCode,
		Message: r.PaymentResultMessage, Time: alipayTime(r.PaymentTime, now),
	}, e)
}

// applyCancel handles a cancel outcome: S is final; F sends the payment to
// one more inquiryPayment (decide reads the refusal from the trail); no
// answer means the same cancel again.
func (a *Agent) applyCancel(p *queue.Payment, o outcome, now time.Time) {
	e := callEvent(queue.CallCancel, o)
	switch class := alipay.CancelClassOf(o.cancel, o.err); class {
	case alipay.Final:
		delete(a.failures, p.RequestID)
		a.finish(p, cancelledResult(p, o.cancel.PaymentID, o.cancel.CancelTime, now), e)
	case alipay.Rejected:
		delete(a.failures, p.RequestID)
		e.Note = noteCancelRefused
		a.log.Warn().Str("req", p.RequestID).Str("code", e.Code).Msg("Alipay refused the cancel; asking inquiryPayment for the truth")
		a.record(p, e, now)
	default:
		a.failed(p, o, e, class, now)
	}
}

// failed handles a call that got no usable answer: unknown outcomes are asked
// again with the same parameters, rate limiting and network failures after a
// growing pause with jitter, and errors only a person can fix after a long
// pause, logged once every few minutes rather than for every call.
func (a *Agent) failed(p *queue.Payment, o outcome, e queue.Event, class alipay.Class, now time.Time) {
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
		wait = backoff(a.opts.Polling.Interval, maxBackoff, n+1, a.rand)
	default:
		if answered(o.err) {
			// A U answer, or one that does not verify: AMS is there; ask
			// again with the same parameters at the usual pace.
			wait = a.opts.Polling.Interval
		} else {
			// No answer (timeout, connection refused, HTTP 5xx): back off.
			wait = backoff(a.opts.Polling.Interval, maxBackoff, n, a.rand)
		}
	}
	if o.act == actLate {
		wait = max(wait, lateFactor*a.opts.Polling.Interval)
	}
	a.log.Warn().Err(o.err).Str("req", p.RequestID).Str("call", e.Call).Stringer("class", class).
		Int("failures", n).Str("retry_in", wait.Round(time.Millisecond).String()).Msg("no usable answer from Alipay")
	a.record(p, e, now.Add(wait))
}

// record commits a non-final outcome and the time of the next action.
func (a *Agent) record(p *queue.Payment, e queue.Event, next time.Time) bool {
	if err := a.store.Record(p.RequestID, e, next); err != nil {
		a.storeError(p.RequestID, "record the call", err)
		return false
	}
	if e.Error == "" {
		ev := a.log.Info().Str("req", p.RequestID).Str("call", e.Call).Str("result", e.ResultStatus).
			Str("code", e.Code)
		if e.PaymentStatus != "" {
			ev = ev.Str("payment_status", e.PaymentStatus)
		}
		if e.Note != "" {
			ev = ev.Str("note", e.Note)
		}
		ev.Msg("not final yet")
	}
	return true
}

// finish commits the final result with its outbox entry, then sends the
// RESULT to the register.
func (a *Agent) finish(p *queue.Payment, r queue.Result, e queue.Event) {
	r.Message = displayText(r.Message)
	done, err := a.store.Finish(p.RequestID, r, e)
	if err != nil {
		if errors.Is(err, queue.ErrFinal) {
			return
		}
		a.storeError(p.RequestID, "store the final result", err)
		return
	}
	a.log.Info().Str("req", done.RequestID).Str("pid", done.PaymentID).Int64("amt", done.Amount).
		Str("cur", done.Currency).Str("status", string(r.Status)).Str("code", r.Code).
		Int("inquiries", done.Inquiries).Int("cancels", done.Cancels).Msg("payment final")
	a.setState(func(s *Snapshot) { s.Finished++ })
	a.sendResult(&done, a.now())
}

// cancelledResult is the result of a payment the agent cancelled.
func cancelledResult(p *queue.Payment, pid, at string, now time.Time) queue.Result {
	code := cancelCode(p)
	return queue.Result{
		Status: queue.Cancelled, PaymentID: pid, Code: code,
		Message: cancelMessages[code], Time: alipayTime(at, now),
	}
}

// cancelCode is the RESULT code of a cancelled payment: AMOUNT_MISMATCH when
// an answer reported another amount, else why the cancel was started.
func cancelCode(p *queue.Payment) string {
	for _, e := range p.Audit {
		if e.Note == noteMismatch {
			return reasonMismatch
		}
	}
	if p.CancelReason == "" {
		return reasonTimeout
	}
	return p.CancelReason
}

var cancelMessages = map[string]string{
	reasonRegister: "cancelled at the register",
	reasonTimeout:  "not paid in time",
	reasonMismatch: "amount or currency differs from the sale",
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
