package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/config"
	"github.com/posagent/posagent/queue"
)

// lastPaymentAge is how far back the payment check looks for a payment to
// ask Alipay about: an older one may be past Alipay's retention, or made
// before the configuration changed.
const lastPaymentAge = 24 * time.Hour

// checkPayment asks inquiryPayment about the newest payment accepted in the
// last 24 hours. The inquiry check proves that Alipay accepts the
// credentials, but a client id of another merchant, or a SANDBOX_ client id
// while the register pays live, passes it too: only a payment the register
// really made tells whether Alipay sees this register's payments. It only
// inquires, never cancels, and reads the payment as the store check does:
// from the file read-only, or from the running agent's status endpoint
// while that agent holds the file.
func checkPayment(ctx context.Context, r *report, ac alipay.Config, cfg *config.Config, held bool, opts Options) {
	now := opts.Now()
	p, found, err := lastPayment(ctx, cfg, held, now.Add(-lastPaymentAge), opts.LockTimeout)
	switch {
	case err != nil:
		r.skip("payment", fmt.Sprintf("cannot read the newest stored payment: %v", err))
		return
	case !found:
		r.skip("payment", "no payment was accepted in the last 24 hours, so there is none to ask Alipay about; run posagent doctor again after a payment")
		return
	}
	ac.Now = opts.Now
	client, err := alipay.NewClient(ac, opts.alipayOptions()...)
	if err != nil {
		r.skip("payment", fmt.Sprintf("the [alipay] settings are refused: %v", err))
		return
	}
	defer client.CloseIdleConnections()
	req := p.RequestID
	accepted := p.AcceptedAt.Local().Format(time.DateTime)
	resp, err := client.Inquire(ctx, alipay.Ref{PaymentRequestID: req})
	e, isAlipay := errors.AsType[*alipay.Error](err)
	switch {
	case err == nil:
		r.pass("payment", fmt.Sprintf("Alipay knows payment %s, accepted at %s (%s)", req, accepted, resp.PaymentStatus))
	case !isAlipay:
		r.warn("payment", fmt.Sprintf("inquiryPayment of payment %s failed: %v", req, err))
	case e.Verified && e.ResultStatus == "F" && e.Code == "ORDER_NOT_EXIST":
		r.warn("payment", fmt.Sprintf("Alipay has no record of payment %s, accepted at %s: check alipay.client_id, alipay.merchant_account_id, and SANDBOX_ versus live", req, accepted))
	case e.Class == alipay.Rejected:
		// A refusal concerning this one payment: Alipay found it.
		r.pass("payment", fmt.Sprintf("Alipay knows payment %s, accepted at %s (F %s)", req, accepted, e.Code))
	case e.Class == alipay.Operator:
		r.warn("payment", fmt.Sprintf("Alipay refused to answer about payment %s (F %s); %s", req, e.Code, codeAdvice(e.Code)))
	case e.ResultStatus != "":
		r.warn("payment", fmt.Sprintf("Alipay answered %s %s about payment %s, which says neither that it knows it nor that it does not; run posagent doctor again in a minute", e.ResultStatus, e.Code, req))
	case !e.Verified && e.HTTPStatus == 200:
		r.warn("payment", fmt.Sprintf("Alipay's answer about payment %s does not verify with the key in alipay.alipay_public_key_file (%v); download the Alipay public key for this client id from the Antom portal", req, err))
	default:
		r.warn("payment", fmt.Sprintf("no usable answer about payment %s: %v", req, err))
	}
}

// lastPayment returns the newest payment accepted at or after since, and
// whether there is one. It reads the store file read-only, or, when a
// running agent holds the file (held, or found so now), asks that agent's
// status endpoint.
func lastPayment(ctx context.Context, cfg *config.Config, held bool, since time.Time, lockTimeout time.Duration) (queue.Payment, bool, error) {
	f := queue.Filter{Since: since, Limit: 1}
	var ps []queue.Payment
	if !held {
		if _, err := os.Stat(cfg.Storage.Path); errors.Is(err, fs.ErrNotExist) {
			return queue.Payment{}, false, nil
		}
		store, err := queue.Open(cfg.Storage.Path, queue.Options{ReadOnly: true, LockTimeout: lockTimeout})
		switch {
		case err == nil:
			ps, err = store.List(f)
			store.Close()
			if err != nil {
				return queue.Payment{}, false, err
			}
		case errors.Is(err, queue.ErrLocked):
			held = true // an agent started since the store check
		default:
			return queue.Payment{}, false, err
		}
	}
	if held {
		if cfg.Status.Listen == "" {
			return queue.Payment{}, false, errors.New("a running posagent holds the store and status.listen is empty, so its payments cannot be read")
		}
		ctx, cancel := context.WithTimeout(ctx, statusAskTimeout)
		defer cancel()
		client, err := cfg.StatusEndpoint().Client()
		if err != nil {
			return queue.Payment{}, false, err
		}
		if ps, err = client.List(ctx, f); err != nil {
			return queue.Payment{}, false, err
		}
	}
	if len(ps) == 0 {
		return queue.Payment{}, false, nil
	}
	return ps[0], true, nil
}
