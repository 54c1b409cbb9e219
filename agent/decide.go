package agent

import (
	"time"

	"github.com/posagent/posagent/queue"
)

// action is what the agent does next with a payment that is due.
type action int

const (
	actInquire     action = iota // ask inquiryPayment
	actStartCancel               // commit the decision to cancel (deadline passed), then cancel
	actCancel                    // call cancel (again, with the same parameters)
	actVerify                    // ask inquiryPayment once after Alipay refused a cancel
	actLate                      // past the cancel window: ask inquiryPayment slowly, flag for a person
)

func (a action) String() string {
	switch a {
	case actInquire:
		return "inquire"
	case actStartCancel:
		return "start-cancel"
	case actCancel:
		return "cancel"
	case actVerify:
		return "verify"
	case actLate:
		return "late"
	}
	return "unknown"
}

// Notes written into the audit trail so that a decision made before a
// restart is read back the same way after it.
const (
	noteCancelRefused = "cancel refused; asking inquiryPayment once more"
	noteCancelAgain   = "inquiryPayment not final after a refused cancel; cancelling again"
)

// decide returns what to do with payment p, which is not final, at now.
//
// The rules, in order:
//   - past the cancel window (00:15 UTC+8 the day after acceptance) no cancel
//     is made any more: Alipay would refuse it, so inquiryPayment is asked until
//     the payment is final and a person is asked to follow up;
//   - a PENDING payment is asked about until its deadline, then cancelled;
//   - a CANCELLING payment is cancelled, except right after Alipay refused the
//     cancel, when inquiryPayment is asked once for the truth (refused reads
//     this from the audit trail, so it holds across a restart).
func decide(p *queue.Payment, now time.Time) action {
	if !now.Before(cancelWindowEnd(p.AcceptedAt)) {
		return actLate
	}
	switch p.State {
	case queue.Pending:
		if now.Before(p.Deadline) {
			return actInquire
		}
		return actStartCancel
	default:
		if refused(p) {
			return actVerify
		}
		return actCancel
	}
}

// refused reports whether the last cancel of p got an F answer and no
// verified inquiryPayment answer came after it: the audit trail, newest
// first, reaches a refusing CANCEL event before any answered call.
func refused(p *queue.Payment) bool {
	for i := len(p.Audit) - 1; i >= 0; i-- {
		e := p.Audit[i]
		switch e.Call {
		case queue.CallInquiry:
			if e.Error == "" && e.ResultStatus != "" {
				return false // answered: the verify step is done
			}
		case queue.CallCancel:
			return e.ResultStatus == "F" && e.Error == ""
		case queue.CallStartCancel:
			return false
		}
	}
	return false
}
