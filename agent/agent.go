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
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/queue"
)

// Alipay is what the agent needs of the Alipay AMS client (*alipay.Client).
// Both calls return a nil error only for an answer whose signature verified
// and whose resultStatus is S; anything else is an *alipay.Error.
type Alipay interface {
	Inquire(ctx context.Context, ref alipay.Ref) (*alipay.InquiryResponse, error)
	Cancel(ctx context.Context, ref alipay.Ref) (*alipay.CancelResponse, error)
}

// Options tune an Agent. Polling is required; every other field has a default.
type Options struct {
	// Polling holds the interval between two inquiries of one payment, the
	// time from acceptance to cancel (unless a PAY says otherwise) and the
	// rate limit shared by every Alipay call.
	Polling PollingSection
	// Retention is how long delivered payments are kept; zero keeps them.
	Retention time.Duration
	// Log receives one line per event that matters. The zero Logger logs
	// nothing.
	Log zerolog.Logger
	// Now is the wall clock; nil means time.Now. Deadlines and the cancel
	// window are read from it. Waits use the runtime's monotonic timers.
	Now func() time.Time
	// Workers bounds the Alipay calls in flight at once; zero picks a
	// number from Polling.MaxRPS.
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
	register Register
	opts     Options
	log      zerolog.Logger
	now      func() time.Time
	limiter  *rate.Limiter
	workers  int

	// Loop state, owned by the loop goroutine.
	rand         *rand.Rand
	inflight     map[string]action    // payments with a call in flight
	failures     map[string]int       // consecutive unanswered calls per payment
	sent         map[string]time.Time // outbox: when each RESULT was last sent as a new frame
	linkUp       bool
	lastOperator time.Time // when the last operator-needed error was logged
	lastPrune    time.Time

	jobs     chan job
	outcomes chan outcome
	out      chan device.Message

	mu      sync.Mutex // guards state and changed
	state   Snapshot
	changed chan struct{} // closed at the next change of state; nil when nobody waits
}

// New returns an Agent that keeps payments in store, asks Alipay through ap
// and talks to the register through reg. Run starts it.
func New(store *queue.Store, ap Alipay, reg Register, opts Options) *Agent {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ResendAfter <= 0 {
		opts.ResendAfter = 30 * time.Second
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 8 * time.Second
	}
	if opts.Polling.MaxRPS <= 0 {
		opts.Polling.MaxRPS = defaultMaxRPS
	}
	if opts.Polling.Interval <= 0 {
		opts.Polling.Interval = defaultInterval
	}
	if opts.Polling.CancelAfter <= 0 {
		opts.Polling.CancelAfter = defaultCancelAfter
	}
	workers := opts.Workers
	if workers <= 0 {
		// Enough for max_rps calls a second that each take a few seconds.
		workers = min(max(int(opts.Polling.MaxRPS*4), 4), 64)
	}
	burst := max(int(opts.Polling.MaxRPS), 1)
	return &Agent{
		store:    store,
		alipay:   ap,
		register: reg,
		opts:     opts,
		log:      opts.Log,
		now:      opts.Now,
		limiter:  rate.NewLimiter(rate.Limit(opts.Polling.MaxRPS), burst),
		workers:  workers,
		rand:     rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		inflight: map[string]action{},
		failures: map[string]int{},
		sent:     map[string]time.Time{},
		jobs:     make(chan job, workers),
		outcomes: make(chan outcome, workers),
		out:      make(chan device.Message, 256),
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
	wg.Go(func() { a.send(ctx) })
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
// and payments not final are logged; the loop's first pass picks them up
// from the due index, deadlines already past going straight to cancel.
func (a *Agent) resume() error {
	outbox, err := a.store.Outbox()
	if err != nil {
		return fmt.Errorf("read the outbox of the payment store: %w", err)
	}
	for _, p := range outbox {
		a.sent[p.RequestID] = time.Time{}
	}
	open, err := a.store.Unfinished()
	if err != nil {
		return fmt.Errorf("read the unfinished payments of the payment store: %w", err)
	}
	a.log.Info().Int("unfinished", len(open)).Int("undelivered", len(outbox)).Msg("resuming payments")
	return nil
}
