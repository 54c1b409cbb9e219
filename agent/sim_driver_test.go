package agent

// The simulation's driver: the ONLY file of the simulation that reaches into
// the agent's internals. Everything else (sim_*_test.go) sees the agent
// through simAgent's methods, register messages of package device and Alipay
// answers of package alipay, so that a change of the loop's internals is
// adapted here alone.
//
// The driver runs the agent's loop by hand, synchronously, in the order Run's
// loop would: handle a register event, or apply an Alipay outcome, or wake on
// the timer, and then tick. No goroutine, worker pool, rate limiter or real
// clock is involved, so that one seed gives one history.

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/queue"
)

// The polling configuration every history runs with: the defaults.
const (
	simInterval    = 3 * time.Second
	simCancelAfter = 60 * time.Second
	simMaxRPS      = 5
)

// simResendAfter is the RESULT resend period the agent runs with.
const simResendAfter = 30 * time.Second

// simWorkers bounds the calls the agent has in flight at once.
const simWorkers = 16

// simCall is one Alipay call the agent started: the world answers it (or
// loses it at a crash) and hands the answer back through simAgent.answer.
type simCall struct {
	ID     int    // numbered by the world, for the trace
	Req    string // the paymentRequestId asked about
	Cancel bool   // a cancel; otherwise an inquiryPayment

	job job
}

// simAnswer is what the Alipay client returned for a call: a response, an
// error, or both (the real client returns a signed non-S answer beside its
// *alipay.Error).
type simAnswer struct {
	Inquiry *alipay.InquiryResponse
	Cancel  *alipay.CancelResponse
	Err     error
}

// simAgent is one run of the agent: one process between two crashes.
type simAgent struct {
	a     *Agent
	store *queue.Store
	reg   simNoRegister
}

// startSimAgent opens the store at path and starts an agent on it as Run
// does before its loop (resume), with its clocks on clock and its jitter
// drawn from seed. The monotonic reading it gets starts at zero, as a new
// process's does. A failing disk is a store opened read-only: it reads,
// and every commit fails, as on a disk that went read-only or full.
func startSimAgent(path string, clock *simClock, seed uint64, failing bool) (*simAgent, error) {
	store, err := queue.Open(path, queue.Options{Now: clock.Wall, ReadOnly: failing})
	if err != nil {
		return nil, err
	}
	origin := clock.Mono()
	opts := Options{
		Interval:    simInterval,
		CancelAfter: simCancelAfter,
		MaxRPS:      simMaxRPS,
		Now:         clock.Wall,
		Mono:        func() time.Duration { return clock.Mono() - origin },
		Workers:     simWorkers,
		ResendAfter: simResendAfter,
	}
	reg := simNoRegister{posted: new([]device.Message)}
	a := New(store, simNoAlipay{}, reg, opts)
	a.rand = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	a.setState(func(s *Snapshot) { s.Started = clock.Wall() })
	if err := a.resume(); err != nil {
		store.Close()
		return nil, err
	}
	return &simAgent{a: a, store: store, reg: reg}, nil
}

// receive hands the agent one message from the register, as the link
// reports it.
func (s *simAgent) receive(m device.Message) { s.a.handle(fromDevice(device.Received{Msg: m})) }

// linkUp reports the port open and the HELLO exchange done.
func (s *simAgent) linkUp() {
	s.a.handle(fromDevice(device.LinkUp{Port: "/dev/sim"}))
	s.a.handle(fromDevice(device.HelloDone{}))
}

// linkDown reports the link lost.
func (s *simAgent) linkDown() {
	s.a.handle(fromDevice(device.LinkDown{Port: "/dev/sim", Err: device.ErrLinkDown}))
}

// tick runs the loop's pass over due work and returns how long the loop
// would then sleep. The STATUS messages the link reported sent are taken
// first, as the loop takes each report before its pass.
func (s *simAgent) tick(clock *simClock) time.Duration {
	for {
		select {
		case req := <-s.a.statusAcks:
			s.a.statusAcked(req)
			continue
		default:
		}
		return s.a.tick(clock.Wall())
	}
}

// calls returns the calls started since the last call, in order.
func (s *simAgent) calls(next func() int) []simCall {
	var out []simCall
	for {
		select {
		case j := <-s.a.jobs:
			out = append(out, simCall{ID: next(), Req: j.ref.PaymentRequestID, Cancel: j.act == actCancel, job: j})
		default:
			return out
		}
	}
}

// answer hands the agent the answer to call c.
func (s *simAgent) answer(c simCall, r simAnswer, took time.Duration) {
	s.a.apply(outcome{job: c.job, inquiry: r.Inquiry, cancel: r.Cancel, err: r.Err, took: took})
}

// sent returns the messages the agent queued for the register since the
// last call, in order.
func (s *simAgent) sent() []device.Message {
	out := *s.reg.posted
	*s.reg.posted = nil
	return out
}

// final reports whether the store holds payment req final.
func (s *simAgent) final(req string) (bool, error) {
	p, err := s.store.Get(req)
	if err != nil {
		return false, err
	}
	return p.State.Final(), nil
}

// get returns payment req as the store holds it.
func (s *simAgent) get(req string) (queue.Payment, error) { return s.store.Get(req) }

// problem returns the operator problem the agent shows (the status page,
// /healthz and the metric show the same).
func (s *simAgent) problem() string { return s.a.Snapshot().OperatorProblem }

// salvage returns what Open salvaged from a damaged file; nil when the file
// was sound.
func (s *simAgent) salvage() *queue.Report { return s.store.Report() }

// stop ends the process: the store is left as the operating system leaves
// a killed process's file (every commit is already synced; what the store
// held in memory is lost, and no clean stop is recorded), and calls in
// flight are simply forgotten. Close would commit what the store holds and
// mark a clean stop, so the file is put back as it was before it.
func (s *simAgent) stop() error {
	path := s.store.Path()
	image, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := s.store.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, image, 0o600)
}

// simNoAlipay is the Alipay the agent is built with. The simulation answers
// every call itself through simAgent.answer; a call through this interface
// would mean a worker ran, which the simulation never starts.
type simNoAlipay struct{}

var errSimDirectCall = errors.New("simulation: the agent called Alipay directly; calls must go through the jobs channel")

func (simNoAlipay) Inquire(context.Context, alipay.Ref) (*alipay.InquiryResponse, error) {
	panic(errSimDirectCall)
}

func (simNoAlipay) Cancel(context.Context, alipay.Ref) (*alipay.CancelResponse, error) {
	panic(errSimDirectCall)
}

// simNoRegister is the register link the agent is built with; the simulation
// feeds register events and takes the messages the agent posts from
// posted. A message is acknowledged at once: acked is called from Post. The zero
// value drops the messages.
type simNoRegister struct{ posted *[]device.Message }

func (simNoRegister) Run(context.Context) error   { panic("simulation: the link is never run") }
func (simNoRegister) Events() <-chan device.Event { return nil }
func (r simNoRegister) Post(m device.Message, acked func()) error {
	if r.posted != nil {
		*r.posted = append(*r.posted, m)
	}
	if acked != nil {
		acked()
	}
	return nil
}
