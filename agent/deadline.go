package agent

import "time"

// cancelMargin is how long before the end of Alipay's cancel window a
// payment's deadline must fall. At the deadline the agent asks Alipay about
// the payment once and, if it is not final, cancels it, repeating a cancel
// that got no answer. Two minutes leave room for that inquiry and a cancel
// with its retries at the default alipay.timeout of 15 s, so that the cancel
// reaches Alipay while Alipay still takes it: past the window a paid payment
// can only be refunded by a person.
const cancelMargin = 2 * time.Minute

// shortestCancelWindow is the least time between a payment's acceptance and
// the end of its cancel window (cancelWindowEnd): a payment accepted just
// before midnight UTC+8 can be cancelled until 00:15 UTC+8, 15 minutes on.
const shortestCancelWindow = 15 * time.Minute

// longestSafeCancelAfter is the longest polling.cancel_after that is never
// shortened: any longer one is cut short for payments accepted shortly
// before midnight UTC+8.
const longestSafeCancelAfter = shortestCancelWindow - cancelMargin

// fitDeadline returns the deadline of a payment accepted at accepted that is
// to be polled for exp, and whether it had to be shortened: the deadline
// never falls later than cancelMargin before the end of Alipay's cancel
// window, so the cancel it leads to is still taken. Since the window is at
// least shortestCancelWindow long, a shortened deadline still lies at least
// longestSafeCancelAfter after acceptance.
func fitDeadline(accepted time.Time, exp time.Duration) (time.Time, bool) {
	deadline := accepted.Add(exp)
	if limit := cancelWindowEnd(accepted).Add(-cancelMargin); deadline.After(limit) {
		return limit, true
	}
	return deadline, false
}
