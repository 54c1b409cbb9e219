package alipaysim

import (
	"fmt"
	"time"

	"github.com/posagent/posagent/alipay"
)

// Script is what the server plays for one paymentRequestId.
//
// Every inquiryPayment call takes the next answer from Steps; a step with a
// count answers that many calls, and the last step repeats once the others
// are used up. No steps means PROCESSING forever. Once a cancel has been
// answered S, every inquiry answers CANCELLED.
//
// Cancel calls play Cancel the same way; no steps means every cancel answers
// S. On cancel, Unknown, RateLimited, Refuse, HTTP500, Forged, Unsigned,
// NotJSON and Oversized behave as for inquiries; every other step answers S
// (Slow after its delay).
type Script struct {
	Amount    alipay.Amount // the payment's amount; 100 USD when zero
	PaymentID string        // Alipay's id for the payment; made up when empty
	Steps     []Step
	Cancel    []Step
}

// Step is one scripted answer, made by the functions below.
type Step struct {
	kind   stepKind
	times  int
	code   string
	delay  time.Duration
	amount alipay.Amount
}

type stepKind int

const (
	stepProcessing stepKind = iota
	stepSuccess
	stepFail
	stepUnknown
	stepHTTP500
	stepSlow
	stepRateLimited
	stepForged
	stepUnsigned
	stepMismatched
	stepRefuse
	stepNotJSON
	stepOversized
)

// Processing answers S PROCESSING to n calls.
func Processing(n int) Step { return Step{kind: stepProcessing, times: n} }

// Success answers S SUCCESS with the scripted amount.
func Success() Step { return Step{kind: stepSuccess, times: 1} }

// SuccessAfter answers S SUCCESS, as Success, but only after a delay: the
// call is recorded (Calls, WaitCalls) at once, so a test knows that a
// SUCCESS is on its way and can change the world before it arrives.
func SuccessAfter(d time.Duration) Step { return Step{kind: stepSuccess, times: 1, delay: d} }

// Fail answers S FAIL with paymentResultCode code, e.g. USER_BALANCE_NOT_ENOUGH.
func Fail(code string) Step { return Step{kind: stepFail, times: 1, code: code} }

// Unknown answers a signed U UNKNOWN_EXCEPTION to n calls.
func Unknown(n int) Step { return Step{kind: stepUnknown, times: n} }

// HTTP500 answers HTTP 500 with a plain text body to n calls.
func HTTP500(n int) Step { return Step{kind: stepHTTP500, times: n} }

// Slow answers S PROCESSING (S on cancel) after d, or not at all when the
// caller gives up or the server closes first.
func Slow(d time.Duration) Step { return Step{kind: stepSlow, times: 1, delay: d} }

// RateLimited answers a signed U REQUEST_TRAFFIC_EXCEED_LIMIT to n calls.
func RateLimited(n int) Step { return Step{kind: stepRateLimited, times: n} }

// Forged answers S SUCCESS whose signature is over other content.
func Forged() Step { return Step{kind: stepForged, times: 1} }

// Unsigned answers S SUCCESS without a Signature header.
func Unsigned() Step { return Step{kind: stepUnsigned, times: 1} }

// MismatchedAmount answers a correctly signed S SUCCESS for amount instead of
// the scripted one.
func MismatchedAmount(amount alipay.Amount) Step {
	return Step{kind: stepMismatched, times: 1, amount: amount}
}

// Refuse answers a signed F with resultCode code, e.g. ACCESS_DENIED or
// ORDER_IS_CLOSED.
func Refuse(code string) Step { return Step{kind: stepRefuse, times: 1, code: code} }

// NotJSON answers a correctly signed body that is not JSON.
func NotJSON() Step { return Step{kind: stepNotJSON, times: 1} }

// Oversized answers a correctly signed S PROCESSING body padded past
// alipay.MaxBody.
func Oversized() Step { return Step{kind: stepOversized, times: 1} }

// String describes the step, e.g. "Processing(3)".
func (s Step) String() string {
	switch s.kind {
	case stepProcessing:
		return fmt.Sprintf("Processing(%d)", s.times)
	case stepSuccess:
		return "Success()"
	case stepFail:
		return fmt.Sprintf("Fail(%s)", s.code)
	case stepUnknown:
		return fmt.Sprintf("Unknown(%d)", s.times)
	case stepHTTP500:
		return fmt.Sprintf("HTTP500(%d)", s.times)
	case stepSlow:
		return fmt.Sprintf("Slow(%v)", s.delay)
	case stepRateLimited:
		return fmt.Sprintf("RateLimited(%d)", s.times)
	case stepForged:
		return "Forged()"
	case stepUnsigned:
		return "Unsigned()"
	case stepMismatched:
		return fmt.Sprintf("MismatchedAmount(%s)", s.amount)
	case stepRefuse:
		return fmt.Sprintf("Refuse(%s)", s.code)
	case stepNotJSON:
		return "NotJSON()"
	case stepOversized:
		return "Oversized()"
	}
	return "Step(?)"
}

// playback walks a list of steps.
type playback struct {
	steps []Step
	pos   int // index of the current step
	used  int // calls the current step has answered
}

// next returns the step for the next call and whether there was one. The
// last step repeats; a step with a count below one answers once.
func (p *playback) next() (Step, bool) {
	if len(p.steps) == 0 {
		return Step{}, false
	}
	st := p.steps[p.pos]
	p.used++
	if p.used >= st.times && p.pos < len(p.steps)-1 {
		p.pos++
		p.used = 0
	}
	return st, true
}

// payment is the server's state for one scripted paymentRequestId.
type payment struct {
	requestID string
	paymentID string
	amount    alipay.Amount
	created   time.Time
	inquiries playback
	cancels   playback
	cancelled time.Time // when a cancel answered S; zero before
}
