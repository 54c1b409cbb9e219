package agent

import (
	"time"

	"github.com/posagent/posagent/alipay"
)

// cancelMargin is how long before the end of Alipay's cancel window a
// payment's deadline must fall. At the deadline the agent asks Alipay about
// the payment once and, if it is not final, cancels it, repeating a cancel
// that got no answer. Two minutes leave room for that inquiry and a cancel
// with its retries at the default alipay.timeout of 15 s, so that the cancel
// reaches Alipay while Alipay still takes it: past the window a paid payment
// can only be refunded by a person.
//
// The configuration warns of a polling.cancel_after that fitDeadline would
// cut short for some payments; TestCancelMarginMatchesConfig keeps its
// threshold, config.LongestSafeCancelAfter, equal to the shortest window
// less cancelMargin.
const cancelMargin = 2 * time.Minute

// fitDeadline returns the deadline of a payment accepted at accepted that is
// to be polled for exp, and whether it had to be shortened: the deadline
// never falls later than cancelMargin before the end of Alipay's cancel
// window, so the cancel it leads to is still taken. Since the window is at
// least alipay.ShortestCancelWindow long, a shortened deadline still lies at
// least config.LongestSafeCancelAfter after acceptance.
func fitDeadline(accepted time.Time, exp time.Duration) (time.Time, bool) {
	deadline := accepted.Add(exp)
	if limit := alipay.CancelWindowEnd(accepted).Add(-cancelMargin); deadline.After(limit) {
		return limit, true
	}
	return deadline, false
}
