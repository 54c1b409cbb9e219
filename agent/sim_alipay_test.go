package agent

// The simulated Alipay: the hidden truth of every payment and the answers
// the agent may get about it. This file is also the agent's model of Antom's
// behaviour (inquiryPayment and cancel of the in-store APIs), which the
// agent must survive:
//
//   - The register makes the pay call itself. It reaches Alipay within 0-60 s
//     of the register's PAY to the agent, or never (network loss). Until it
//     arrives Alipay knows nothing of the paymentRequestId: inquiryPayment and
//     cancel both answer F ORDER_NOT_EXIST, and such a cancel changes nothing,
//     so the order can still arrive and be paid afterwards.
//   - Once it arrives the payment is PROCESSING. The customer pays, mostly
//     within 100 s, sometimes after minutes (SUCCESS; rarely for another
//     amount or currency than the PAY's, when the register's pay call
//     differed), the payment fails (FAIL, e.g.
//     USER_BALANCE_NOT_ENOUGH), or nobody acts and Alipay closes the unpaid
//     order after its payment expiry, 14 minutes or, for some methods, hours
//     (FAIL).
//   - inquiryPayment answers S with paymentStatus PROCESSING, SUCCESS, FAIL or
//     CANCELLED; also PENDING, a status the agent does not know and must take
//     as not final. FAIL, CANCELLED and SUCCESS are never followed by another
//     status, except that a cancel turns SUCCESS into CANCELLED (refunded).
//   - cancel works until 00:15 UTC+8 of the day after the order was created:
//     on PROCESSING it closes the order, on SUCCESS it refunds the customer in
//     full; either way the payment is CANCELLED and the answer is S. Repeating
//     a successful cancel with the same paymentRequestId answers S again and
//     does nothing more. After the window it is F CANCEL_WINDOW_EXCEED; on an
//     order that failed it is F ORDER_IS_CLOSED (Antom documents no closer
//     code; the agent must not depend on it); on an unknown order F
//     ORDER_NOT_EXIST.
//   - Any call may instead get U (outcome unknown), a rate limit (verified F
//     REQUEST_TRAFFIC_EXCEED_LIMIT or HTTP 429), HTTP 5xx, no answer at all
//     (timeout), an unsigned answer, an answer whose signature does not
//     verify (forged: it may say anything, even SUCCESS), a verified F that
//     refuses the call without saying anything of the payment (PROCESS_FAIL,
//     ACCESS_DENIED), or a verified answer about another payment. A call
//     that timed out, got U or 5xx may or may not have reached Alipay: a
//     cancel among them may have taken effect. Only a verified answer tells
//     the truth, and it always does.
//   - The agent may be set up for another merchant than the register's
//     pay calls go to (another client id, sandbox against live): while it
//     is, every verified answer about every payment is F ORDER_NOT_EXIST and
//     no cancel of the agent's has any effect, while the register's payments
//     go on at the merchant the agent cannot see (simAlipay.misconfigured).
//   - The agent may hold a wrong Alipay public key, or Alipay rotated its
//     key: while it does, every answer that carries a signature fails to
//     verify (simAlipay.badKey), though the calls take effect at Alipay.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/posagent/posagent/alipay"
)

// simUTC8 is the zone of Alipay's cancel window.
var simUTC8 = time.FixedZone("UTC+8", 8*60*60)

// simWindowEnd is the end of Alipay's cancel window for an order created at
// created: 00:15 UTC+8 of the following day.
func simWindowEnd(created time.Time) time.Time {
	y, m, d := created.In(simUTC8).Date()
	return time.Date(y, m, d+1, 0, 15, 0, 0, simUTC8)
}

// simTruth is Alipay's own record of one paymentRequestId: what the agent
// can only learn through verified answers.
type simTruth struct {
	req     string
	pid     string
	order   alipay.Amount // what the register's pay call asked Alipay for
	arrives time.Time     // when the pay call reached Alipay; zero: never
	settles time.Time     // when the customer paid or the order failed
	paid    bool          // at settles: SUCCESS (else FAIL with failCode)
	failure string
	// cancelled is when a cancel took effect; zero: never.
	cancelled time.Time
	// unseen: the agent asked about it while it was set up for another
	// merchant, which could not see it.
	unseen bool
}

// status returns the payment's status at true time at; "" while Alipay does
// not know the order.
func (p *simTruth) status(at time.Time) string {
	switch {
	case p.arrives.IsZero() || at.Before(p.arrives):
		return ""
	case !p.cancelled.IsZero() && !at.Before(p.cancelled):
		return alipay.StatusCancelled
	case at.Before(p.settles):
		return alipay.StatusProcessing
	case p.paid:
		return alipay.StatusSuccess
	}
	return alipay.StatusFail
}

// paidNotCancelled reports whether the customer's money is with the merchant
// at true time at: paid and neither cancelled nor refunded.
func (p *simTruth) paidNotCancelled(at time.Time) bool {
	return p.status(at) == alipay.StatusSuccess
}

// refunded reports whether the customer paid and a cancel gave the money back.
func (p *simTruth) refunded(at time.Time) bool {
	return p.paid && !p.cancelled.IsZero() && !at.Before(p.cancelled) && !p.cancelled.Before(p.settles)
}

// simKind is how Alipay's answer to one call reaches the agent.
type simKind int

const (
	kindTrue         simKind = iota // verified, resultStatus S or a truthful F
	kindU                           // verified U
	kindRateLimited                 // verified F REQUEST_TRAFFIC_EXCEED_LIMIT
	kindHTTP429                     // HTTP 429, no body
	kind5xx                         // HTTP 502/503
	kindTimeout                     // no answer before the client's timeout
	kindUnsigned                    // HTTP 200 without a signature
	kindForged                      // HTTP 200 whose signature does not verify; says anything
	kindProcessFail                 // verified F PROCESS_FAIL: refused, nothing done
	kindAccessDenied                // verified F ACCESS_DENIED: refused, nothing done
	kindOtherPayment                // verified S naming another payment
	simKinds
)

var simKindNames = [simKinds]string{"verified", "U", "rate-limited F", "HTTP 429", "HTTP 5xx",
	"timeout", "unsigned", "forged", "F PROCESS_FAIL", "F ACCESS_DENIED", "other payment"}

func (k simKind) String() string { return simKindNames[k] }

// reaches reports whether a call answered this way reached Alipay (for a
// cancel: took effect), drawing where that is not known.
func (k simKind) reaches(rng *rand.Rand) bool {
	switch k {
	case kindTrue, kindUnsigned, kindForged, kindOtherPayment:
		return true
	case kindU, kind5xx, kindTimeout:
		return rng.IntN(2) == 0
	}
	return false
}

// signed reports whether an answer of this kind carries a signature, which
// the agent's key must verify.
func (k simKind) signed() bool {
	switch k {
	case kindHTTP429, kind5xx, kindTimeout, kindUnsigned:
		return false
	}
	return true
}

// simFaults is a history's mix of answer kinds, as weights.
type simFaults [simKinds]int

// simFaultProfiles are the mixes a history is drawn from: a healthy link, an
// ordinary day, and a storm.
var simFaultProfiles = []simFaults{
	{kindTrue: 95, kindU: 1, kindRateLimited: 1, kind5xx: 1, kindTimeout: 1, kindForged: 1},
	{kindTrue: 72, kindU: 4, kindRateLimited: 2, kindHTTP429: 2, kind5xx: 4, kindTimeout: 4,
		kindUnsigned: 3, kindForged: 4, kindProcessFail: 2, kindAccessDenied: 1, kindOtherPayment: 2},
	{kindTrue: 40, kindU: 8, kindRateLimited: 6, kindHTTP429: 6, kind5xx: 10, kindTimeout: 10,
		kindUnsigned: 5, kindForged: 8, kindProcessFail: 3, kindAccessDenied: 2, kindOtherPayment: 2},
}

func (f *simFaults) draw(rng *rand.Rand) simKind {
	total := 0
	for _, w := range f {
		total += w
	}
	n := rng.IntN(total)
	for k, w := range f {
		if n < w {
			return simKind(k)
		}
		n -= w
	}
	return kindTrue
}

// simSaid is what a verified answer said, for the invariant checker. Only
// verified answers are recorded: nothing else may be believed.
type simSaid struct {
	cancel        bool
	resultStatus  string // S, F or U
	code          string
	paymentStatus string // inquiry S only
	amountOK      bool   // inquiry S SUCCESS: the PAY's amount and currency
}

func (s simSaid) String() string {
	call := "inquiry"
	if s.cancel {
		call = "cancel"
	}
	out := call + " " + s.resultStatus
	if s.code != "" {
		out += " " + s.code
	}
	if s.paymentStatus != "" {
		out += " " + s.paymentStatus
	}
	if s.paymentStatus == alipay.StatusSuccess && !s.amountOK {
		out += " (other amount)"
	}
	return out
}

// simAlipay is Alipay: the truth of every payment and the answers served.
type simAlipay struct {
	rng    *rand.Rand
	faults simFaults
	truths map[string]*simTruth
	pays   map[string]alipay.Amount // the PAY each req was accepted with
	// misconfigured: the agent asks a merchant that knows none of the
	// register's payments (sim_test.go's planWorld sets and clears it).
	misconfigured bool
	// badKey: no signature of Alipay's verifies with the agent's key.
	badKey bool
}

func newSimAlipay(rng *rand.Rand) *simAlipay {
	return &simAlipay{
		rng:    rng,
		faults: simFaultProfiles[rng.IntN(len(simFaultProfiles))],
		truths: map[string]*simTruth{},
		pays:   map[string]alipay.Amount{},
	}
}

// pay records the register's own pay call for a PAY of amt cur sent at
// true time at, drawing when (and whether) it reaches Alipay and what the
// customer then does. It returns a line for the trace.
func (w *simAlipay) pay(req string, amt int64, cur string, at time.Time) string {
	if _, ok := w.truths[req]; ok {
		return ""
	}
	w.pays[req] = alipay.Amount{Currency: cur, Value: strconv.FormatInt(amt, 10)}
	p := &simTruth{req: req, pid: "2026" + strconv.FormatUint(w.rng.Uint64()%1e12, 10), order: w.pays[req]}
	w.truths[req] = p
	if w.rng.IntN(10) == 0 {
		return "the register's pay call never reaches Alipay"
	}
	if w.rng.IntN(25) == 0 { // the register's pay call asked for something else
		if w.rng.IntN(2) == 0 {
			p.order.Value = strconv.FormatInt(amt+100, 10)
		} else {
			p.order.Currency = map[bool]string{true: "EUR", false: "USD"}[cur == "USD"]
		}
	}
	p.arrives = at.Add(time.Duration(w.rng.Int64N(int64(60 * time.Second))))
	switch n := w.rng.IntN(100); {
	case n < 52:
		p.paid = true
		p.settles = p.arrives.Add(2*time.Second + time.Duration(w.rng.Int64N(int64(100*time.Second))))
	case n < 60: // a customer who takes minutes (no signal, a top-up first)
		p.paid = true
		p.settles = p.arrives.Add(time.Minute + time.Duration(w.rng.Int64N(int64(12*time.Minute))))
	case n < 80:
		p.failure = []string{"USER_BALANCE_NOT_ENOUGH", "RISK_REJECT", "USER_PAYMENT_VERIFICATION_FAILED"}[w.rng.IntN(3)]
		p.settles = p.arrives.Add(2*time.Second + time.Duration(w.rng.Int64N(int64(60*time.Second))))
	default:
		// Nobody pays: Alipay closes the order after its payment expiry,
		// 14 minutes for most methods, hours for some.
		p.failure = "ORDER_IS_CLOSED"
		p.settles = p.arrives.Add(14 * time.Minute)
		if w.rng.IntN(3) == 0 {
			p.settles = p.arrives.Add(time.Hour + time.Duration(w.rng.Int64N(int64(2*time.Hour))))
		}
	}
	out := fmt.Sprintf("the register's pay call (%s) reaches Alipay at +%.1fs; ", p.order, p.arrives.Sub(at).Seconds())
	if p.paid {
		return out + fmt.Sprintf("the customer pays %.1fs later", p.settles.Sub(p.arrives).Seconds())
	}
	return out + fmt.Sprintf("it fails %s %.1fs later", p.failure, p.settles.Sub(p.arrives).Seconds())
}

// serve answers call c at true time at, as the answer kind k has it: it
// applies the call's effect where the call reached Alipay, and returns what
// the client hands the agent and, for a verified answer, what it said.
func (w *simAlipay) serve(c simCall, k simKind, reached bool, at time.Time) (simAnswer, *simSaid) {
	p := w.truths[c.Req]
	if p == nil { // a payment the register never paid: Alipay has no record
		p = &simTruth{req: c.Req}
		w.truths[c.Req] = p
	}
	var (
		said  simSaid
		truth simAnswer
	)
	switch {
	case w.misconfigured:
		// The call went to a merchant that knows none of the register's
		// payments: it changes nothing, and what it verifiably says about
		// any payment is ORDER_NOT_EXIST.
		p.unseen = true
		truth, said = w.refuse(c, at, "ORDER_NOT_EXIST", "The order does not exist.")
	case reached:
		truth, said = w.truthful(c, p, at)
	}
	api := alipay.APIInquiry
	if c.Cancel {
		api = alipay.APICancel
	}
	fail := func(class alipay.Class, status, code string, http int, verified bool, cause error) *alipay.Error {
		return &alipay.Error{API: api, Ref: alipay.Ref{PaymentRequestID: c.Req}, Class: class,
			ResultStatus: status, Code: code, HTTPStatus: http, Verified: verified, Err: cause}
	}
	if w.badKey && k.signed() {
		// As the client reports a signature that does not verify: no
		// response, an unverified error of class Unknown wrapping
		// ErrBadSignature.
		return simAnswer{Err: fail(alipay.Unknown, "", "", 200, false, fmt.Errorf("the answer's signature does not verify with the Alipay public key, so it proves nothing and the outcome is unknown: %w", alipay.ErrBadSignature))}, nil
	}
	if w.misconfigured && k == kindProcessFail {
		k = kindTrue // about the payment, the wrong merchant says it knows none
	}
	switch k {
	case kindTrue:
		return truth, &said
	case kindU:
		return simAnswer{Err: fail(alipay.Unknown, "U", "UNKNOWN_EXCEPTION", 200, true, nil)},
			&simSaid{cancel: c.Cancel, resultStatus: "U", code: "UNKNOWN_EXCEPTION"}
	case kindRateLimited:
		return simAnswer{Err: fail(alipay.RateLimited, "F", "REQUEST_TRAFFIC_EXCEED_LIMIT", 200, true, nil)},
			&simSaid{cancel: c.Cancel, resultStatus: "F", code: "REQUEST_TRAFFIC_EXCEED_LIMIT"}
	case kindHTTP429:
		return simAnswer{Err: fail(alipay.RateLimited, "", "", 429, false, nil)}, nil
	case kind5xx:
		return simAnswer{Err: fail(alipay.Unknown, "", "", 502+w.rng.IntN(2), false, nil)}, nil
	case kindTimeout:
		return simAnswer{Err: fail(alipay.Unknown, "", "", 0, false, errors.New("no answer from Alipay before the deadline (timeout 15s), so the outcome is unknown: context deadline exceeded"))}, nil
	case kindUnsigned:
		return simAnswer{Err: fail(alipay.Unknown, "", "", 200, false, errors.New("the answer is unsigned, so it proves nothing and the outcome is unknown"))}, nil
	case kindForged:
		return w.forged(c, p, fail(alipay.Unknown, "", "", 200, false, fmt.Errorf("the answer's signature does not verify with the Alipay public key, so it proves nothing and the outcome is unknown: %w", alipay.ErrBadSignature))), nil
	case kindProcessFail:
		return simAnswer{Err: fail(alipay.Rejected, "F", "PROCESS_FAIL", 200, true, nil)},
			&simSaid{cancel: c.Cancel, resultStatus: "F", code: "PROCESS_FAIL"}
	case kindAccessDenied:
		return simAnswer{Err: fail(alipay.Operator, "F", "ACCESS_DENIED", 200, true, nil)},
			&simSaid{cancel: c.Cancel, resultStatus: "F", code: "ACCESS_DENIED"}
	case kindOtherPayment:
		return simAnswer{Err: fail(alipay.Unknown, "", "", 200, true, fmt.Errorf("the signed answer is about paymentRequestId %q, not the payment asked about, so it is ignored", c.Req+"-other"))}, nil
	}
	panic("unknown answer kind")
}

// truthful is the verified answer to c at at, with its effect applied.
func (w *simAlipay) truthful(c simCall, p *simTruth, at time.Time) (simAnswer, simSaid) {
	refuse := func(code, msg string) (simAnswer, simSaid) { return w.refuse(c, at, code, msg) }
	status := p.status(at)
	if status == "" {
		return refuse("ORDER_NOT_EXIST", "The order does not exist.")
	}
	ok := alipay.Result{Status: "S", Code: "SUCCESS", Message: "Success"}
	if c.Cancel {
		switch {
		case !at.Before(simWindowEnd(p.arrives)):
			return refuse("CANCEL_WINDOW_EXCEED", "The cancellation period has expired.")
		case status == alipay.StatusFail:
			return refuse("ORDER_IS_CLOSED", "The order is closed.")
		case status != alipay.StatusCancelled:
			p.cancelled = at
		}
		return simAnswer{Cancel: &alipay.CancelResponse{Result: ok, PaymentID: p.pid, PaymentRequestID: p.req,
			CancelTime: p.cancelled.In(simUTC8).Format(time.RFC3339), ResponseTime: at}}, simSaid{cancel: true, resultStatus: "S"}
	}
	r := &alipay.InquiryResponse{Result: ok, PaymentStatus: status, PaymentRequestID: p.req, PaymentID: p.pid,
		PaymentAmount: p.order, PaymentCreateTime: p.arrives.In(simUTC8).Format(time.RFC3339), ResponseTime: at}
	switch status {
	case alipay.StatusProcessing:
		r.PaymentResultCode, r.PaymentResultMessage = "PAYMENT_IN_PROCESS", "The payment is being processed."
		if w.rng.IntN(6) == 0 {
			r.PaymentStatus = "PENDING" // a status the agent does not know: not final
		}
	case alipay.StatusSuccess:
		r.PaymentResultCode, r.PaymentResultMessage = "SUCCESS", "Success"
		r.PaymentTime = p.settles.In(simUTC8).Format(time.RFC3339)
	case alipay.StatusFail:
		r.PaymentResultCode, r.PaymentResultMessage = p.failure, "The payment failed."
	case alipay.StatusCancelled:
		r.PaymentResultCode, r.PaymentResultMessage = "ORDER_IS_CANCELED", "The order is cancelled."
	}
	return simAnswer{Inquiry: r}, simSaid{resultStatus: "S", paymentStatus: r.PaymentStatus,
		amountOK: r.PaymentAmount.Equal(w.pays[c.Req])}
}

// refuse is a verified F answer with code to call c at at.
func (w *simAlipay) refuse(c simCall, at time.Time, code, msg string) (simAnswer, simSaid) {
	api := alipay.APIInquiry
	if c.Cancel {
		api = alipay.APICancel
	}
	e := &alipay.Error{API: api, Ref: alipay.Ref{PaymentRequestID: c.Req}, Class: alipay.Rejected,
		ResultStatus: "F", Code: code, Message: msg, HTTPStatus: 200, Verified: true}
	r := alipay.Result{Status: "F", Code: code, Message: msg}
	said := simSaid{cancel: c.Cancel, resultStatus: "F", code: code}
	if c.Cancel {
		return simAnswer{Cancel: &alipay.CancelResponse{Result: r, ResponseTime: at}, Err: e}, said
	}
	return simAnswer{Inquiry: &alipay.InquiryResponse{Result: r, ResponseTime: at}, Err: e}, said
}

// forged is an answer whose signature does not verify: it says whatever an
// attacker or a broken proxy wants, most often that the payment succeeded.
func (w *simAlipay) forged(c simCall, p *simTruth, err error) simAnswer {
	ok := alipay.Result{Status: "S", Code: "SUCCESS", Message: "Success"}
	if c.Cancel {
		return simAnswer{Cancel: &alipay.CancelResponse{Result: ok, PaymentRequestID: c.Req}, Err: err}
	}
	status := []string{alipay.StatusSuccess, alipay.StatusSuccess, alipay.StatusFail, alipay.StatusCancelled, alipay.StatusProcessing}[w.rng.IntN(5)]
	return simAnswer{Inquiry: &alipay.InquiryResponse{Result: ok, PaymentStatus: status, PaymentRequestID: c.Req,
		PaymentAmount: w.pays[c.Req], PaymentTime: "2026-01-01T00:00:00+08:00"}, Err: err}
}

// describe renders an answer for the trace.
func (a simAnswer) describe() string {
	switch {
	case a.Err != nil:
		var ae *alipay.Error
		if errors.As(a.Err, &ae) {
			v := "unverified"
			if ae.Verified {
				v = "verified"
			}
			s := fmt.Sprintf("%s error: class %s", v, ae.Class)
			if ae.ResultStatus != "" {
				s += " " + ae.ResultStatus + " " + ae.Code
			} else if ae.HTTPStatus != 0 {
				s += fmt.Sprintf(" HTTP %d", ae.HTTPStatus)
			}
			if a.Inquiry != nil && a.Inquiry.PaymentStatus != "" {
				s += " (body says " + a.Inquiry.PaymentStatus + ")"
			}
			return s
		}
		return "error: " + a.Err.Error()
	case a.Inquiry != nil:
		return fmt.Sprintf("verified S %s %s %s", a.Inquiry.PaymentStatus, a.Inquiry.PaymentResultCode, a.Inquiry.PaymentAmount)
	case a.Cancel != nil:
		return "verified S cancelled at " + a.Cancel.CancelTime
	}
	return "nothing"
}
