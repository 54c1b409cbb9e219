package queue

import "time"

// State is where a payment is in its life: PENDING while Alipay is asked,
// CANCELLING while a cancel is made, then one of the final states SUCCESS,
// FAIL or CANCELLED, which never change.
type State string

// The states of a payment.
const (
	Pending    State = "PENDING"
	Cancelling State = "CANCELLING"
	Success    State = "SUCCESS"
	Fail       State = "FAIL"
	Cancelled  State = "CANCELLED"
)

// Final reports whether s is a final state: SUCCESS, FAIL or CANCELLED.
func (s State) Final() bool {
	return s == Success || s == Fail || s == Cancelled
}

// valid reports whether s is one of the five states.
func (s State) valid() bool {
	return s == Pending || s == Cancelling || s.Final()
}

// Calls named in the audit trail. Record and Finish count CallInquiry and
// CallCancel events in Payment.Inquiries and Payment.Cancels.
const (
	CallAccept      = "ACCEPT"       // the PAY was stored
	CallInquiry     = "INQUIRY"      // an inquiryPayment call and its outcome
	CallCancel      = "CANCEL"       // a cancel call and its outcome
	CallStartCancel = "START_CANCEL" // the decision to cancel, Note says why
	CallDeliver     = "DONE"         // the register confirmed the RESULT
	CallFlag        = "FLAG"         // flagged for manual follow-up
)

// Event is one entry of a payment's audit trail: a call made and its outcome.
type Event struct {
	Time          time.Time `json:"time"`
	Call          string    `json:"call"`
	ResultStatus  string    `json:"resultStatus,omitempty"`
	Code          string    `json:"code,omitempty"`
	PaymentStatus string    `json:"paymentStatus,omitempty"`
	Note          string    `json:"note,omitempty"`
	// Error, when not empty, describes a failed call (timeout, bad
	// signature, HTTP status) and becomes the payment's LastError.
	Error string `json:"error,omitempty"`
}

// Outcome lists what came of the call for a line of text: the result
// status, code, payment status and note that are set, in that order, then
// "error: " and the error when there is one.
func (e Event) Outcome() []string {
	var parts []string
	for _, f := range []string{e.ResultStatus, e.Code, e.PaymentStatus, e.Note} {
		if f != "" {
			parts = append(parts, f)
		}
	}
	if e.Error != "" {
		parts = append(parts, "error: "+e.Error)
	}
	return parts
}

// Result holds the fields of a final RESULT as they go to the register.
type Result struct {
	Status    State  `json:"status"`
	PaymentID string `json:"paymentId,omitempty"`
	Code      string `json:"code,omitempty"`
	Message   string `json:"message,omitempty"`
	// Time is RFC 3339 with an offset, as Alipay gave it or as the agent
	// made it; it is kept as text so it goes back to the register unchanged.
	Time string `json:"time,omitempty"`
}

// Payment is the stored record of one payment, keyed by its RequestID
// (Alipay's paymentRequestId). All times are UTC.
type Payment struct {
	RequestID  string    `json:"req"`
	PaymentID  string    `json:"pid,omitempty"`
	Amount     int64     `json:"amt"` // minor units
	Currency   string    `json:"cur"`
	Lane       string    `json:"lane,omitempty"`
	AcceptedAt time.Time `json:"acceptedAt"`
	// Deadline is the wall-clock instant after which polling stops and the
	// payment is cancelled; being an instant, it survives a restart.
	Deadline time.Time `json:"deadline"`
	// NextAt is when the next action on the payment is due. It is set for
	// every PENDING or CANCELLING payment and zero for a final one.
	NextAt       time.Time `json:"nextAt,omitzero"`
	State        State     `json:"state"`
	CancelReason string    `json:"cancelReason,omitempty"`
	Result       Result    `json:"result,omitzero"`
	FinishedAt   time.Time `json:"finishedAt,omitzero"`  // when the final state was committed
	DeliveredAt  time.Time `json:"deliveredAt,omitzero"` // when the register sent DONE
	Inquiries    int       `json:"inquiries,omitempty"`
	Cancels      int       `json:"cancels,omitempty"`
	LastError    string    `json:"lastError,omitempty"`
	// FollowUp, when not empty, says why the payment needs a person to look
	// at it. A flagged payment is never pruned.
	FollowUp string `json:"followUp,omitempty"`
	// Recovered is set on an unfinished payment that salvage brought back
	// from a damaged file: the copy may be older than the truth, so the agent
	// asks Alipay before it cancels or reports anything. A Step with Checked
	// clears it.
	Recovered bool `json:"recovered,omitempty"`
	// Track is what Alipay's answers have taught the agent about the
	// payment; the agent decides its next action from it.
	Track Track   `json:"track,omitzero"`
	Audit []Event `json:"audit,omitempty"`
	// AuditDropped counts the oldest audit events dropped to keep the trail
	// within Options.AuditLimit.
	AuditDropped int `json:"auditDropped,omitempty"`
	// Revision counts the committed changes to the record. Salvage keeps
	// the highest revision it finds of each payment.
	Revision int64 `json:"rev"`
}

// Track is what the agent has learnt about an unfinished payment from
// Alipay's answers. It is stored with the payment, not read back from the
// audit trail (which is bounded), so that the agent decides the same way
// after a restart however many calls came before. The queue stores it as
// given; the agent alone gives it meaning.
type Track struct {
	// Mismatch is set once a verified answer reported another amount or
	// currency than the PAY's: the payment then never ends SUCCESS.
	Mismatch bool `json:"mismatch,omitempty"`
	// Refusals counts the cancels Alipay refused for this payment
	// (verified F answers such as ORDER_NOT_EXIST or PROCESS_FAIL).
	Refusals int `json:"refusals,omitempty"`
	// Throttled counts the cancels refused by a rate limit or a
	// credential error (verified F answers about the caller, not the
	// payment): they pace the next cancel as refusals do, and prove
	// nothing else.
	Throttled int `json:"throttled,omitempty"`
	// Verify is set by a refused cancel and cleared by the next verified
	// inquiryPayment answer: no cancel is made while it is set.
	Verify bool `json:"verify,omitempty"`
	// Known is set once a verified answer showed that Alipay knows the
	// payment (any answer about it but F ORDER_NOT_EXIST).
	Known bool `json:"known,omitempty"`
	// MaybeKnown is set on a payment that was open when a run of the
	// agent ended without closing the store: the answer that showed Alipay
	// knows the payment may have been held in memory and lost with it.
	// The agent then treats the payment as known where that keeps the
	// question open (the ORDER_NOT_EXIST grace rule).
	MaybeKnown bool `json:"maybeKnown,omitempty"`
	// Absent counts the verified ORDER_NOT_EXIST answers about the payment.
	Absent int `json:"absent,omitempty"`
	// AbsentSince is when the present unbroken run of verified
	// ORDER_NOT_EXIST answers after a refused cancel began; zero when there
	// is no such run.
	AbsentSince time.Time `json:"absentSince,omitzero"`
	// AbsentFor is how long that run has lasted, added up from the
	// monotonic time between its answers within one run of the agent (the
	// time an agent was down adds nothing), so that no step of the wall
	// clock can make it seem longer than it was.
	AbsentFor time.Duration `json:"absentFor,omitempty"`
	// NoCancel is set once Alipay answered that the payment is past its
	// cancel window: it is only asked about from then on.
	NoCancel bool `json:"noCancel,omitempty"`
	// CreatedAt is Alipay's paymentCreateTime, where an answer gave one.
	CreatedAt time.Time `json:"createdAt,omitzero"`
}

// Delivered reports whether the register has confirmed the final result.
func (p *Payment) Delivered() bool { return !p.DeliveredAt.IsZero() }

// AlipayID is Alipay's paymentId of p: from its final result, else the one
// its PAY gave, else "".
func (p *Payment) AlipayID() string {
	if p.Result.PaymentID != "" {
		return p.Result.PaymentID
	}
	return p.PaymentID
}
