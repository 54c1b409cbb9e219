package agent

import (
	"time"

	"github.com/posagent/posagent/queue"
)

// alipayZone is the time zone Alipay's cancel window is counted in (UTC+8).
var alipayZone = time.FixedZone("UTC+8", 8*60*60)

// cancelWindowEnd returns the last instant at which Alipay still takes a
// cancel of a payment created at created: 00:15 UTC+8 of the following day.
// Past it a cancel would be refused, so the agent stops trying and asks
// inquiryPayment instead.
func cancelWindowEnd(created time.Time) time.Time {
	t := created.In(alipayZone)
	y, m, d := t.Date()
	return time.Date(y, m, d+1, 0, 15, 0, 0, alipayZone).UTC()
}

// paymentWindowEnd is the end of p's cancel window, counted from Alipay's
// paymentCreateTime where an answer gave it, else from when the PAY was
// accepted.
func paymentWindowEnd(p *queue.Payment) time.Time {
	if !p.Track.CreatedAt.IsZero() {
		return cancelWindowEnd(p.Track.CreatedAt)
	}
	return cancelWindowEnd(p.AcceptedAt)
}
