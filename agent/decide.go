package agent

import (
	"time"

	"github.com/posagent/posagent/queue"
)

// action is what the agent does next with a payment that is due.
type action int

const (
	actInquire action = iota // ask inquiryPayment
	actLook                  // deadline passed: ask inquiryPayment once, cancel unless the answer is final
	actCancel                // call cancel (again, with the same parameters)
	actVerify                // ask inquiryPayment before cancelling (again): a cancel was refused, or salvage brought the payment back
	actLate                  // no cancel can be made any more: ask inquiryPayment slowly, flag for a person
)

func (a action) String() string {
	switch a {
	case actInquire:
		return "inquire"
	case actLook:
		return "look"
	case actCancel:
		return "cancel"
	case actVerify:
		return "verify"
	case actLate:
		return "late"
	}
	return "unknown"
}

// Notes written into the audit trail, for people reading it.
const (
	noteCancelRefused  = "cancel refused; asking inquiryPayment for the truth"
	noteCancelAgain    = "inquiryPayment not final after a refused cancel; cancelling again after a pause"
	noteLookThenCancel = "deadline passed and the payment is not final; cancelling"
)

// decide returns what to do with payment p, which is not final, at now. It
// reads only what is stored with p (its state, deadline and Track), so a
// restarted agent decides the same way. The rules, in order (docs/design.md,
// rules 8 and 9):
//   - once Alipay said the payment is past its cancel window, or the window
//     (00:15 UTC+8 the day after the payment) has passed, no cancel is made
//     any more: inquiryPayment is asked slowly until the payment is final,
//     and a person is asked to follow it up;
//   - a PENDING payment is asked about until its deadline; at the deadline it
//     is asked about once more (the look), and only an answer that is not
//     final leads to the cancel;
//   - a CANCELLING payment is cancelled, except while a refused cancel has
//     had no verified inquiryPayment answer since, or while salvage brought
//     it back and Alipay has not been asked since: then inquiryPayment is
//     asked first.
func decide(p *queue.Payment, now time.Time) action {
	switch {
	case p.Track.NoCancel || !now.Before(paymentWindowEnd(p)):
		return actLate
	case p.State == queue.Pending && now.Before(p.Deadline):
		return actInquire
	case p.State == queue.Pending:
		return actLook
	case p.Track.Verify || p.Recovered:
		return actVerify
	}
	return actCancel
}
