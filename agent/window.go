package agent

import (
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/queue"
)

// paymentWindowEnd is the end of p's cancel window, counted from Alipay's
// paymentCreateTime where an answer gave it, else from when the PAY was
// accepted.
func paymentWindowEnd(p *queue.Payment) time.Time {
	if !p.Track.CreatedAt.IsZero() {
		return alipay.CancelWindowEnd(p.Track.CreatedAt)
	}
	return alipay.CancelWindowEnd(p.AcceptedAt)
}
