package agent

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/posagent/posagent/agent/status"
	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/config"
	"github.com/posagent/posagent/queue"
)

// Alipay is what the agent needs of the Alipay AMS client (*alipay.Client).
// Both calls return a nil error only for an answer whose signature verified
// and whose resultStatus is S; anything else is an *alipay.Error.
type Alipay interface {
	Inquire(ctx context.Context, ref alipay.Ref) (*alipay.InquiryResponse, error)
	Cancel(ctx context.Context, ref alipay.Ref) (*alipay.CancelResponse, error)
}

// Options tune an Agent. Every field has a default; `posagent run` fills
// them from the configuration file (Serve).
type Options struct {
	// Interval is the time between two inquiries of one payment
	// (polling.interval). Zero here and in the three fields below means
	// the configuration's default (config.Default).
	Interval time.Duration
	// CancelAfter is the time from acceptance to a payment's deadline
	// unless its PAY says otherwise (polling.cancel_after).
	CancelAfter time.Duration
	// MaxRPS is the rate limit shared by every Alipay call, in calls per
	// second (polling.max_rps).
	MaxRPS float64
	// AbsentGrace is how long, after a refused cancel, every verified answer
	// must have been ORDER_NOT_EXIST before the payment ends FAIL
	// (polling.absent_grace).
	AbsentGrace time.Duration
	// Retention is how long delivered payments are kept; zero keeps them.
	Retention time.Duration
	// Log receives one line per event that matters. The zero Logger logs
	// nothing.
	Log zerolog.Logger
	// Now is the wall clock; nil means time.Now. Deadlines and the cancel
	// window are read from it.
	Now func() time.Time
	// Mono is the monotonic clock: the time elapsed since a fixed instant,
	// which only ever moves forward. Nil means the runtime's monotonic
	// clock. Every wait is measured on it, so a wall clock stepped back
	// never stalls a payment (docs/design.md, rule 9).
	Mono func() time.Duration
	// PublicKeyFile is the path of alipay.alipay_public_key_file, named in
	// the operator problem raised when Alipay's answers stop verifying.
	PublicKeyFile string
	// Workers bounds the Alipay calls in flight at once; zero picks a
	// number from MaxRPS.
	Workers int
	// ResendAfter is how long an unconfirmed RESULT waits before it is sent
	// again; zero means 30 s, the protocol's value.
	ResendAfter time.Duration
	// Calls, when not nil, receives every Alipay call for the status page's
	// metrics and error list.
	Calls *status.Calls
	// StopTimeout bounds how long Run waits, once ctx ends, for calls in
	// flight and the link to stop; zero means 8 s.
	StopTimeout time.Duration
}

// Agent is the daemon's core: it turns the register's requests into durable
// payments, drives each one to a final state through Alipay, and delivers the
// results back through the outbox. One goroutine (Run's loop) makes every
// decision and every store change that follows one; Alipay calls run on a
// small pool of workers so that a slow call never holds up the register.
type Agent struct {
	store    *queue.Store
	alipay   Alipay
	register Link
	opts     Options
	log      zerolog.Logger
	now      func() time.Time
	mono     func() time.Duration
	limiter  *rate.Limiter
	workers  int

	// Loop state, owned by the loop goroutine.
	rand         *rand.Rand
	table        *timetable               // every unfinished payment's next action, and the calls in flight
	failures     map[string]int           // consecutive unanswered calls per payment
	unsaved      map[string]outcome       // answers the store refused, committed again before any new call
	storeFails   map[string]int           // consecutive store failures per payment
	absentAt     map[string]time.Duration // when each payment's last ORDER_NOT_EXIST answer came (monotonic)
	resend       map[string]time.Duration // outbox: when each RESULT is due to be sent again (monotonic)
	linkUp       bool
	lastOperator time.Time // when the last operator-needed error was logged
	lastPrune    time.Time
	watcher      watcher // operator problems and the clock offset
	health       storeHealth

	jobs       chan job
	outcomes   chan outcome
	statusAcks chan string // new payments whose STATUS ACCEPTED the register acknowledged
	verified   chan error  // the outcome of the store's integrity check in the background

	mu      sync.Mutex // guards state and changed
	state   Snapshot
	changed chan struct{} // closed at the next change of state; nil when nobody waits
}

// New returns an Agent that keeps payments in store, asks Alipay through ap
// and talks to the register through reg. Run starts it.
func New(store *queue.Store, ap Alipay, reg Link, opts Options) *Agent {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Mono == nil {
		start := time.Now()
		opts.Mono = func() time.Duration { return time.Since(start) }
	}
	def := config.Default().Polling
	if opts.AbsentGrace <= 0 {
		opts.AbsentGrace = def.AbsentGrace
	}
	if opts.ResendAfter <= 0 {
		opts.ResendAfter = 30 * time.Second
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 8 * time.Second
	}
	if opts.MaxRPS <= 0 {
		opts.MaxRPS = def.MaxRPS
	}
	if opts.Interval <= 0 {
		opts.Interval = def.Interval
	}
	if opts.CancelAfter <= 0 {
		opts.CancelAfter = def.CancelAfter
	}
	workers := opts.Workers
	if workers <= 0 {
		// Enough for max_rps calls a second that each take a few seconds.
		workers = min(max(int(opts.MaxRPS*4), 4), 64)
	}
	burst := max(int(opts.MaxRPS), 1)
	return &Agent{
		store:      store,
		alipay:     ap,
		register:   reg,
		opts:       opts,
		log:        opts.Log,
		now:        opts.Now,
		mono:       opts.Mono,
		limiter:    rate.NewLimiter(rate.Limit(opts.MaxRPS), burst),
		workers:    workers,
		rand:       rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		table:      newTimetable(gapFor(opts.Interval)),
		absentAt:   map[string]time.Duration{},
		failures:   map[string]int{},
		unsaved:    map[string]outcome{},
		storeFails: map[string]int{},
		resend:     map[string]time.Duration{},
		jobs:       make(chan job, workers),
		outcomes:   make(chan outcome, workers),
		statusAcks: make(chan string, 256),
		verified:   make(chan error, 1),
	}
}

// Run resumes every payment the store holds, opens the link to the register
// and serves until ctx ends. It then cancels the calls in flight, waits for
// the workers and the link to stop (at most Options.StopTimeout) and returns.
// It does not close the store; the caller that opened it does.
//
// Run returns nil after ctx ended, or the error that stopped it.
func (a *Agent) Run(ctx context.Context) error {
	a.setState(func(s *Snapshot) { s.Started = a.now() })
	if err := a.resume(); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range a.workers {
		wg.Go(func() { a.work(ctx) })
	}
	if !a.store.Checked() {
		wg.Go(func() { a.verifyStore(ctx) })
	}
	linkErr := make(chan error, 1)
	wg.Go(func() { linkErr <- a.register.Run(ctx) })

	err := a.loop(ctx, linkErr)
	cancel()

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(a.opts.StopTimeout):
		a.log.Warn().Dur("waited", a.opts.StopTimeout).Msg("stopping without waiting for the last calls and the link")
	}
	return err
}

// resume reads what a previous run left: results the register has not
// confirmed go back into the resend set (they are sent once the link is up),
// and every payment not final is planned. A payment whose deadline passed
// meanwhile is asked about once before it is cancelled (decide's look): the
// customer may have paid while the terminal was off.
func (a *Agent) resume() error {
	outbox, err := a.store.Outbox()
	if err != nil {
		return fmt.Errorf("read the outbox of the payment store: %w", err)
	}
	for _, p := range outbox {
		a.resend[p.RequestID] = 0
	}
	open, err := a.store.Unfinished()
	if err != nil {
		return fmt.Errorf("read the unfinished payments of the payment store: %w", err)
	}
	if a.store.Interrupted() {
		a.assumeKnown(open)
	}
	a.plans(open, a.now())
	a.log.Info().Int("unfinished", len(open)).Int("undelivered", len(outbox)).Msg("resuming payments")
	return nil
}

// assumeKnown marks every payment of open that may have been known to
// Alipay when the last run ended without closing the store: a PENDING one
// whose stored Track does not say so. The first answer showing that Alipay
// knows a payment is held in memory like any other PROCESSING answer
// (holdable), so a crash may have lost it; with the mark, the grace rule
// never ends such a payment FAIL ORDER_NOT_EXIST (rule 8), and it stays
// open, asked about with backoff, until Alipay gives its status. The mark
// is held too: it is committed with the payment's next change or at a
// clean stop, and a second crash before that marks the payment again.
func (a *Agent) assumeKnown(open []queue.Payment) {
	n := 0
	for i := range open {
		p := &open[i]
		if p.State != queue.Pending || p.Recovered || p.Track.Known || p.Track.MaybeKnown {
			continue
		}
		t := p.Track
		t.MaybeKnown = true
		q, err := a.store.Hold(p.RequestID, queue.Step{Track: &t, Next: p.NextAt})
		if err != nil {
			// Not marked, the payment is treated as never known: only a
			// refused cancel and a run of ORDER_NOT_EXIST could end it.
			a.log.Error().Err(err).Str("req", p.RequestID).Msg("cannot mark a payment the last run may have known")
			continue
		}
		*p = q
		n++
	}
	if n > 0 {
		a.log.Warn().Int("payments", n).
			Msg("the last run ended without closing the store; open payments it may have learnt Alipay knows are never ended FAIL ORDER_NOT_EXIST")
	}
}
