package agent

import (
	"context"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/queue"
)

// job is one Alipay call for a worker to make.
type job struct {
	ref alipay.Ref
	act action
}

// outcome is the answer to a job, handed back to the loop.
type outcome struct {
	job
	inquiry *alipay.InquiryResponse // for inquiries
	cancel  *alipay.CancelResponse  // for cancels
	err     error
	took    time.Duration
	again   bool // a kept outcome whose commit the store refused before
}

// ref is the reference Alipay knows payment p by. Only the request id is
// sent (docs/design.md): Alipay lets paymentId win when both are given.
func ref(p *queue.Payment) alipay.Ref {
	return alipay.Ref{PaymentRequestID: p.RequestID}
}

// work makes calls until ctx ends. Every call first waits its turn at the
// rate limiter that all workers share, so inquiries and cancels together stay
// within polling.max_rps. A call cut short by ctx still reports its outcome
// if the loop is there to take it.
func (a *Agent) work(ctx context.Context) {
	for {
		var j job
		select {
		case <-ctx.Done():
			return
		case j = <-a.jobs:
		}
		o := outcome{job: j}
		if err := a.limiter.Wait(ctx); err != nil {
			o.err = err
		} else {
			start := time.Now()
			if j.act == actCancel {
				o.cancel, o.err = a.alipay.Cancel(ctx, j.ref)
			} else {
				o.inquiry, o.err = a.alipay.Inquire(ctx, j.ref)
			}
			o.took = time.Since(start)
		}
		select {
		case a.outcomes <- o:
		case <-ctx.Done():
			return
		}
	}
}
