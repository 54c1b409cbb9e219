package agent

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/queue"
)

// Thresholds of the operator problems the agent raises from a run of
// answers (docs/design.md, "Operator problems").
const (
	// absentRunLimit payments in a row reaching their deadline with only
	// ORDER_NOT_EXIST answers, none known to Alipay in between, point at a
	// wrong merchant, client id or sandbox setting.
	absentRunLimit = 3
	// badSignatureLimit answers in a row whose signature does not verify
	// point at a wrong or rotated Alipay public key.
	badSignatureLimit = 5
	// clockOffsetLimit is how far the terminal's clock may be from Alipay's
	// before it is logged and shown.
	clockOffsetLimit = 2 * time.Minute
	// clockLogEvery bounds the clock warnings to one this often.
	clockLogEvery = 5 * time.Minute
)

// watcher follows the answers of every payment together, for what no single
// payment shows: problems only a person can fix, and the clock's offset.
// The loop owns it; noteCall publishes its problems once the answer that
// changed them is committed.
type watcher struct {
	credentials string // the last call's credential or contract error
	absent      string // set while Alipay seems to know none of this register's payments
	signature   string // set while Alipay's answers do not verify
	absentRun   int    // payments in a row that reached their deadline unknown to Alipay
	badSigs     int    // answers in a row whose signature did not verify
	clockLogged time.Time
}

// problem is every operator problem that stands, "; "-joined.
func (w *watcher) problem() string {
	var ps []string
	for _, p := range []string{w.credentials, w.absent, w.signature} {
		if p != "" {
			ps = append(ps, p)
		}
	}
	return strings.Join(ps, "; ")
}

// watch takes every call's outcome: credential errors, a run of answers
// that do not verify, and the offset of the terminal's clock from the
// Response-Time of a verified answer.
func (a *Agent) watch(o outcome) {
	w := &a.watcher
	ae, _ := errors.AsType[*alipay.Error](o.err)
	verified := o.err == nil || (ae != nil && ae.Verified)
	w.credentials = ""
	if ae != nil && ae.Class == alipay.Operator {
		w.credentials = o.err.Error()
	}
	switch {
	case errors.Is(o.err, alipay.ErrBadSignature):
		w.badSigs++
		if w.badSigs >= badSignatureLimit && w.signature == "" {
			w.signature = fmt.Sprintf("%d answers in a row from Alipay did not verify with alipay.alipay_public_key_file (%s): the key is wrong or Alipay rotated it; put Alipay's current public key there and restart posagent",
				w.badSigs, a.opts.PublicKeyFile)
			a.log.Error().Int("answers", w.badSigs).Str("alipay_public_key_file", a.opts.PublicKeyFile).
				Msg("Alipay's answers do not verify: the key is wrong or Alipay rotated it; payments stay open until it is fixed")
		}
	case verified:
		w.badSigs, w.signature = 0, ""
	}
	var at time.Time
	switch {
	case o.err == nil && o.inquiry != nil:
		at = o.inquiry.ResponseTime
	case o.err == nil && o.cancel != nil:
		at = o.cancel.ResponseTime
	}
	if !at.IsZero() {
		now := a.now()
		// The answer left Alipay while the call was out; half its time is
		// the best guess of when.
		offset := now.Add(-o.took / 2).Sub(at).Round(time.Second)
		shown := time.Duration(0)
		if offset > clockOffsetLimit || offset < -clockOffsetLimit {
			shown = offset
			if now.Sub(w.clockLogged) >= clockLogEvery || now.Before(w.clockLogged) {
				w.clockLogged = now
				a.log.Warn().Str("offset", offset.String()).
					Msg("the terminal's clock is off from Alipay's; set it right (NTP), or Alipay may refuse calls as INVALID_SIGNATURE")
			}
		}
		a.setState(func(s *Snapshot) { s.ClockOffset, s.MeasuredClockOffset = shown, offset })
	}
}

// knownAnswer notes a verified answer about a payment that shows Alipay
// knows it (t.Known): Alipay does know this register's payments.
func (a *Agent) knownAnswer(t *queue.Track) {
	if !t.Known {
		return
	}
	w := &a.watcher
	w.absentRun = 0
	if w.absent != "" {
		w.absent = ""
		a.log.Info().Msg("Alipay knows this register's payments again")
	}
}

// reachedDeadline counts payment p, whose look at the deadline has just
// been answered (what is known of it is t), towards the wrong-merchant
// problem when every verified answer about it was ORDER_NOT_EXIST.
func (a *Agent) reachedDeadline(p *queue.Payment, t *queue.Track) {
	if t.Known || t.Absent == 0 {
		return
	}
	w := &a.watcher
	w.absentRun++
	if w.absentRun >= absentRunLimit && w.absent == "" {
		w.absent = "Alipay knows none of this register's payments: check alipay.client_id, alipay.merchant_account_id, and SANDBOX_ versus live"
		a.log.Error().Int("payments", w.absentRun).Str("req", p.RequestID).Msg(w.absent)
	}
}
