package status

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Call is the outcome of one Alipay call, as the agent reports it to Calls.
type Call struct {
	Kind     string        // inquiry or cancel
	Request  string        // the paymentRequestId asked about
	Outcome  string        // the class of the answer: ok, or the kind of failure
	Duration time.Duration // from sending the request to having the answer or giving up
	At       time.Time     // when the call ended

	// Answered is true when Alipay gave a verified answer, whatever it said.
	Answered bool
	// Operator is true when the call failed for a reason only a person can
	// fix: a wrong key, client id or clock.
	Operator bool
	// Err is why the call failed; nil when it got a usable answer.
	Err error
}

// maxCallErrors is how many failed calls Calls remembers for the page.
const maxCallErrors = 10

// Calls records every Alipay call: counts by outcome and a latency histogram
// for /metrics, and the last few failures, whether Alipay was reached and
// whether an operator is needed for the page and /healthz. It is safe for
// concurrent use, and is a prometheus.Collector.
type Calls struct {
	total   *prometheus.CounterVec
	latency *prometheus.HistogramVec

	mu       sync.Mutex
	last     time.Time
	answered bool
	operator string      // the last call's error when it needs an operator
	errors   []CallError // newest last, at most maxCallErrors
}

// NewCalls returns an empty Calls.
func NewCalls() *Calls {
	return &Calls{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posagent_alipay_calls_total",
			Help: "Alipay calls made, by call and outcome.",
		}, []string{"call", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "posagent_alipay_call_duration_seconds",
			Help:    "Time from sending an Alipay call to having its answer or giving up.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60},
		}, []string{"call"}),
	}
}

// Observe records one call.
func (c *Calls) Observe(call Call) {
	c.total.WithLabelValues(call.Kind, call.Outcome).Inc()
	c.latency.WithLabelValues(call.Kind).Observe(call.Duration.Seconds())

	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = call.At
	c.answered = call.Answered
	c.operator = ""
	if call.Err == nil {
		return
	}
	if call.Operator {
		c.operator = call.Err.Error()
	}
	if len(c.errors) == maxCallErrors {
		copy(c.errors, c.errors[1:])
		c.errors = c.errors[:maxCallErrors-1]
	}
	c.errors = append(c.errors, CallError{
		Time:    call.At,
		Call:    call.Kind,
		Request: call.Request,
		Outcome: call.Outcome,
		Message: call.Err.Error(),
	})
}

// Fill copies what Calls knows into a, leaving a's endpoint and client id alone.
func (c *Calls) Fill(a *Alipay) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a.LastCall = c.last
	a.Reachable = c.answered
	a.OperatorProblem = c.operator
	a.Errors = make([]CallError, len(c.errors))
	for i, e := range c.errors {
		a.Errors[len(c.errors)-1-i] = e
	}
}

// Describe implements prometheus.Collector.
func (c *Calls) Describe(ch chan<- *prometheus.Desc) {
	c.total.Describe(ch)
	c.latency.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Calls) Collect(ch chan<- prometheus.Metric) {
	c.total.Collect(ch)
	c.latency.Collect(ch)
}
