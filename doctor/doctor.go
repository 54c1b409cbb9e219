package doctor

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/config"
)

// Options adjust Run. The zero value checks the real thing.
type Options struct {
	// Now is the terminal's clock, compared with Alipay's; time.Now when nil.
	Now func() time.Time
	// RootCAs, when not nil, are trusted for the endpoint's TLS certificate
	// instead of the system's.
	RootCAs *x509.CertPool
	// LockTimeout is how long the store check waits for the file lock
	// before it concludes that a running agent holds it; 500 ms when zero.
	LockTimeout time.Duration
}

// ErrChecksFailed is returned by Run when a check other than the
// configuration's failed.
var ErrChecksFailed = errors.New("some checks failed")

// Run checks, in order, everything posagent needs to work and writes one
// line per check to out: OK, WARN or FAIL (and SKIP for a check that cannot
// run because one before it failed), each line that is not OK saying what to
// do. It returns nil when no check failed, the configuration's error when
// the file does not load (the other checks are then skipped), and
// ErrChecksFailed when another check failed. It never changes anything: the
// store is opened read-only, and the serial port is opened only when no
// running agent holds the store.
//
// The checks: the configuration file, and status.token_file when
// status.listen demands a token; the key files, the key pair, and who may
// read the private key;
// the payment store; the operator problem a running agent reports on its
// status endpoint (Alipay refuses the credentials, knows none of the
// register's payments, or answers with signatures that do not verify),
// which fails the run; the serial port and its USB identity; DNS and TLS (a
// TCP connection for a plain-http loopback endpoint) to the Alipay endpoint;
// a signed inquiryPayment of a made-up id, which must be answered with a
// signed F ORDER_NOT_EXIST, proving keys, client id and clock together; a
// signed inquiryPayment of the newest payment accepted in the last 24 hours,
// which Alipay must know (a warning naming alipay.client_id,
// alipay.merchant_account_id and SANDBOX_ versus live when it does not); and
// the clock against the Date of Alipay's answer. Run only ever inquires,
// never cancels.
func Run(ctx context.Context, cfgPath string, out io.Writer, opts Options) error {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 500 * time.Millisecond
	}
	r := &report{w: out}

	cfg, err := config.Load(cfgPath)
	if err != nil {
		r.fail("config", err.Error())
		for _, check := range []string{"keys", "store", "agent", "port", "network", "inquiry", "payment", "clock"} {
			r.skip(check, "needs a configuration file that loads")
		}
		return err
	}
	if err := cfg.CheckStatusToken(); err != nil {
		r.fail("config", err.Error())
	} else if ws := cfg.Warnings(); len(ws) > 0 {
		msg := []string{fmt.Sprintf("%s is valid, with warnings:", cfg.Path)}
		for _, w := range ws {
			msg = append(msg, w.String())
		}
		r.warn("config", strings.Join(msg, "\n"))
	} else {
		r.pass("config", fmt.Sprintf("%s is valid", cfg.Path))
	}

	ac, keysOK := checkKeys(r, cfg)
	storeHeld := checkStore(r, cfg, opts.LockTimeout)
	checkAgent(ctx, r, cfg, storeHeld)
	checkPort(ctx, r, cfg, storeHeld)
	date, reached := checkNetwork(ctx, r, cfg, opts)
	switch {
	case !keysOK:
		r.skip("inquiry", "needs key files that load")
		r.skip("payment", "needs key files that load")
	case !reached:
		r.skip("inquiry", "needs the endpoint to be reachable")
		r.skip("payment", "needs the endpoint to be reachable")
	default:
		checkInquiry(ctx, r, ac, opts)
		checkPayment(ctx, r, ac, cfg, storeHeld, opts)
	}
	checkClock(r, date, opts.Now)
	if r.failed {
		return ErrChecksFailed
	}
	return nil
}

// report writes Run's lines and remembers whether any failed.
type report struct {
	w      io.Writer
	failed bool
}

// Levels of a report line.
const (
	levelOK   = "OK"
	levelWarn = "WARN"
	levelFail = "FAIL"
	levelSkip = "SKIP"
)

func (r *report) pass(check, msg string) { r.line(levelOK, check, msg) }
func (r *report) warn(check, msg string) { r.line(levelWarn, check, msg) }
func (r *report) skip(check, msg string) { r.line(levelSkip, check, msg) }
func (r *report) fail(check, msg string) {
	r.failed = true
	r.line(levelFail, check, msg)
}

// line writes "LEVEL check   message"; the further lines of a message of
// several lines are indented under the first.
func (r *report) line(level, check, msg string) {
	lines := strings.Split(strings.TrimRight(msg, "\n"), "\n")
	fmt.Fprintf(r.w, "%-4s  %-8s  %s\n", level, check, lines[0])
	for _, l := range lines[1:] {
		fmt.Fprintf(r.w, "%-4s  %-8s    %s\n", "", "", strings.TrimSpace(l))
	}
}

// madeUpRequestID is the made-up paymentRequestId the inquiry check asks
// about; no merchant uses it, so Alipay must answer ORDER_NOT_EXIST.
func madeUpRequestID(now time.Time) string {
	return fmt.Sprintf("posagent-doctor-%d", now.UnixNano())
}

// alipayOptions returns the client options for opts.
func (opts Options) alipayOptions() []alipay.Option {
	if opts.RootCAs == nil {
		return nil
	}
	return []alipay.Option{alipay.WithRootCAs(opts.RootCAs)}
}
