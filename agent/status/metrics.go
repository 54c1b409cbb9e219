package status

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// stateCollector turns a fresh Snapshot into metrics at every scrape, so the
// agent keeps its counters in one place and needs no metric hooks of its own.
type stateCollector struct {
	snapshot func() Snapshot

	payments  *prometheus.Desc
	followUp  *prometheus.Desc
	outbox    *prometheus.Desc
	oldest    *prometheus.Desc
	storeOpen *prometheus.Desc
	fault     *prometheus.Desc
	free      *prometheus.Desc
	salvages  *prometheus.Desc
	lost      *prometheus.Desc
	linkUp    *prometheus.Desc
	frames    *prometheus.Desc
	naks      *prometheus.Desc
	resends   *prometheus.Desc
	reachable *prometheus.Desc
	operator  *prometheus.Desc
	startTime *prometheus.Desc
	buildInfo *prometheus.Desc

	reconciledAt  *prometheus.Desc
	reconciledTo  *prometheus.Desc
	findings      *prometheus.Desc
	discrepancies *prometheus.Desc

	// What a fleet's alerts need beyond the above (docs/monitoring.md).
	identity    Identity
	info        *prometheus.Desc
	overdue     *prometheus.Desc
	overdueAge  *prometheus.Desc
	undelivered *prometheus.Desc
	storeErrors *prometheus.Desc
	clockOffset *prometheus.Desc
	accepted    *prometheus.Desc
	finished    *prometheus.Desc
}

func newStateCollector(snapshot func() Snapshot, id Identity) *stateCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &stateCollector{
		snapshot:  snapshot,
		payments:  d("posagent_payments", "Payments kept in the store: pending, cancelling, undelivered (final, waiting for DONE) and delivered.", "state"),
		followUp:  d("posagent_payments_follow_up", "Payments flagged for a person to look at."),
		outbox:    d("posagent_outbox_size", "Final results waiting for the register's DONE."),
		oldest:    d("posagent_oldest_pending_age_seconds", "Age of the oldest payment not final yet; 0 when there is none."),
		storeOpen: d("posagent_store_open", "1 when the payment store is open."),
		fault:     d("posagent_store_fault", "1 while the named fault stops the payment store from taking new payments: disk_full, read_only, file_removed, file_replaced, write_failed or damaged.", "fault"),
		free:      d("posagent_store_free_bytes", "Free space of the payment store's file system, where the platform tells it."),
		salvages:  d("posagent_store_salvaged", "Salvages of a damaged store file that still need a person: each counts until its damaged file is moved away."),
		lost:      d("posagent_store_lost_payments", "Payments those salvages could not save."),
		linkUp:    d("posagent_link_up", "1 when the serial link to the register is up.", "port"),
		frames:    d("posagent_frames_total", "Frames on the register link, by direction.", "direction"),
		naks:      d("posagent_naks_total", "NAK frames on the register link, by direction.", "direction"),
		resends:   d("posagent_resends_total", "Data frames sent again to the register for want of an ACK."),
		reachable: d("posagent_alipay_reachable", "1 when the last Alipay call got a verified answer."),
		operator:  d("posagent_alipay_operator_problem", "1 while something only a person can fix stands in the way of payments: credentials refused, no payment known to Alipay, or answers that do not verify."),
		startTime: d("posagent_start_time_seconds", "When the agent started, in seconds since the Unix epoch."),
		buildInfo: d("posagent_build_info", "Always 1; the label says the version.", "version"),

		reconciledAt:  d("posagent_reconcile_last_run_timestamp_seconds", "When posagent reconcile last compared the store with Alipay's reports, in seconds since the Unix epoch; absent before the first run."),
		reconciledTo:  d("posagent_reconcile_period_end_timestamp_seconds", "The end of the period the last reconciled reports cover, in seconds since the Unix epoch."),
		findings:      d("posagent_reconcile_findings", "Findings of the last reconciliation, by kind (see docs/reconcile.md).", "kind"),
		discrepancies: d("posagent_reconcile_discrepancies", "Findings of the last reconciliation that need a person."),

		identity:    id,
		info:        d("posagent_info", "Always 1; the labels are the store and lane the terminal serves, as set in [status] store and lane, for joining with the other series on instance.", "store", "lane"),
		overdue:     d("posagent_payments_overdue", "Payments not final yet whose deadline has passed."),
		overdueAge:  d("posagent_oldest_overdue_seconds", "How long ago the earliest deadline of a payment not final yet passed; 0 when none is overdue."),
		undelivered: d("posagent_oldest_undelivered_age_seconds", "How long the oldest final result has waited for the register's DONE; 0 when none waits."),
		storeErrors: d("posagent_store_errors_total", "Reads and commits of the payment store that failed since the agent started."),
		accepted:    d("posagent_payments_accepted_total", "Payments accepted from the register since the agent started (a repeated PAY counts once)."),
		finished:    d("posagent_payments_finished_total", "Payments made final (SUCCESS, FAIL or CANCELLED) since the agent started."),
		clockOffset: d("posagent_clock_offset_seconds", "How far the terminal's clock is ahead of Alipay's (negative: behind), from the last verified answer; 0 before the first."),
	}
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.payments, c.followUp, c.outbox, c.oldest, c.storeOpen, c.fault, c.free, c.salvages, c.lost, c.linkUp, c.frames,
		c.naks, c.resends, c.reachable, c.operator, c.startTime, c.buildInfo,
		c.reconciledAt, c.reconciledTo, c.findings, c.discrepancies,
		c.info, c.overdue, c.overdueAge, c.undelivered, c.storeErrors, c.clockOffset, c.accepted, c.finished,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}

	gauge(c.payments, float64(s.Store.Pending), "pending")
	gauge(c.payments, float64(s.Store.Cancelling), "cancelling")
	gauge(c.payments, float64(s.Store.Undelivered), "undelivered")
	gauge(c.payments, float64(s.Store.Delivered), "delivered")
	gauge(c.followUp, float64(s.Store.FollowUp))
	gauge(c.outbox, float64(s.Store.Undelivered))
	age := 0.0
	if !s.Store.OldestPending.IsZero() {
		age = max(s.Taken.Sub(s.Store.OldestPending).Seconds(), 0)
	}
	gauge(c.oldest, age)
	gauge(c.storeOpen, boolValue(s.Store.Open))
	for _, f := range StoreFaults() {
		gauge(c.fault, boolValue(s.Store.Fault == f), f)
	}
	if s.Store.FreeBytes != nil {
		gauge(c.free, float64(*s.Store.FreeBytes))
	}
	gauge(c.salvages, float64(len(s.Store.Salvages)))
	lost := 0
	for _, v := range s.Store.Salvages {
		lost += v.LostCount
	}
	gauge(c.lost, float64(lost))

	gauge(c.linkUp, boolValue(s.Link.Up), s.Link.Port)
	counter(c.frames, s.Link.FramesIn, "in")
	counter(c.frames, s.Link.FramesOut, "out")
	counter(c.naks, s.Link.NAKsIn, "in")
	counter(c.naks, s.Link.NAKsOut, "out")
	counter(c.resends, s.Link.Resends)

	gauge(c.reachable, boolValue(s.Alipay.Reachable))
	gauge(c.operator, boolValue(s.Alipay.OperatorProblem != ""))
	if !s.Started.IsZero() {
		gauge(c.startTime, float64(s.Started.UnixNano())/1e9)
	}
	gauge(c.buildInfo, 1, s.Version)

	if r := s.Reconciliation; r != nil && r.Error == "" {
		gauge(c.reconciledAt, float64(r.Time.UnixNano())/1e9)
		gauge(c.reconciledTo, float64(r.To.UnixNano())/1e9)
		for kind, n := range r.Counts {
			gauge(c.findings, float64(n), kind)
		}
		gauge(c.discrepancies, float64(r.Discrepancies))
	}

	gauge(c.info, 1, c.identity.Store, c.identity.Lane)
	gauge(c.overdue, float64(s.Store.Overdue))
	gauge(c.overdueAge, since(s.Taken, s.Store.OverdueSince))
	gauge(c.undelivered, since(s.Taken, s.Store.OldestUndelivered))
	counter(c.storeErrors, s.Store.Errors)
	gauge(c.clockOffset, s.Alipay.MeasuredClockOffsetSeconds)
	counter(c.accepted, s.Accepted)
	counter(c.finished, s.Finished)
}

// since is how many seconds before now t was; 0 for a zero t or one not
// before now.
func since(now, t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return max(now.Sub(t).Seconds(), 0)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
