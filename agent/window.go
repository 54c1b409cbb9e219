package agent

import "time"

// alipayZone is the time zone Alipay's cancel window is counted in (UTC+8).
var alipayZone = time.FixedZone("UTC+8", 8*60*60)

// cancelWindowEnd returns the last instant at which Alipay still takes a
// cancel of a payment accepted at accepted: 00:15 UTC+8 of the following day.
// Past it a cancel would be refused, so the agent stops trying and asks
// inquiryPayment instead.
func cancelWindowEnd(accepted time.Time) time.Time {
	t := accepted.In(alipayZone)
	y, m, d := t.Date()
	return time.Date(y, m, d+1, 0, 15, 0, 0, alipayZone).UTC()
}
