//go:build unix

package agent

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/internal/postest"
)

// percentile returns the p-th percentile (0-100) of ds, which it sorts.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(float64(len(ds)-1) * p / 100)
	return ds[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// payGap is how far apart BenchmarkPayAccepted sends its PAYs: a busy
// lane, with time between two PAYs for the first inquiry of each payment.
const payGap = 30 * time.Millisecond

// BenchmarkPayAccepted measures PAY to STATUS ACCEPTED over a real pty, the
// store commit included, with a PAY every payGap, beside one raw bbolt
// commit (a Put in an Update, synced) on the same disk in the same run: the
// baseline the ACCEPTED path cannot beat. Every payment is due for its
// first inquiry at once, so the agent signs and makes that call, and
// commits its answer, between two PAYs; the raw commit is timed half-way
// between two PAYs.
//
// PAY -> ACCEPTED is timed on the wire, at the register's end of the pty:
// from the start of the write that carries the PAY to the read that
// completes the STATUS (wireClock), as a cash register would time it. The
// time from the register simulator's Send to its event for the STATUS,
// which adds the simulator's own goroutines, is reported beside it
// (accepted-sim-*). So is a second baseline, timed three quarters of the
// way between two PAYs: the same bytes both ways over another pty, answered
// at once by a bare loop on a port opened as the agent opens its own
// (pty-echo-*), which is what the pty itself takes of PAY -> ACCEPTED.
func BenchmarkPayAccepted(b *testing.B) {
	var wire *wireClock
	var wireMu sync.Mutex
	r := newRigWith(b, func(c device.Conn) device.Conn {
		wireMu.Lock()
		defer wireMu.Unlock()
		wire = newWireClock(c)
		return wire
	})
	r.start(Options{Interval: time.Hour, CancelAfter: 24 * time.Hour, MaxRPS: 100})
	r.pay("warm-up", 100, 0)

	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	echo := newPtyEcho(b)
	var pays, sims, commits, echoes []time.Duration
	b.ResetTimer()
	next := time.Now()
	for i := range b.N {
		time.Sleep(time.Until(next))
		req := fmt.Sprintf("bench-%d", i)
		start := time.Now()
		if st := r.pay(req, 100, 0); st.State != "ACCEPTED" {
			b.Fatalf("PAY answered %+v", st)
		}
		sims = append(sims, time.Since(start))
		wireMu.Lock()
		d, err := wire.exchange(req)
		wireMu.Unlock()
		if err != nil {
			b.Fatalf("timing on the wire: %v", err)
		}
		pays = append(pays, d)

		time.Sleep(time.Until(next.Add(payGap / 2)))
		start = time.Now()
		if err := db.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return bk.Put([]byte(req), []byte("{}"))
		}); err != nil {
			b.Fatal(err)
		}
		commits = append(commits, time.Since(start))

		time.Sleep(time.Until(next.Add(payGap * 3 / 4)))
		echoes = append(echoes, echo.roundTrip(b))
		next = next.Add(payGap)
	}
	b.StopTimer()
	p50, p99 := percentile(pays, 50), percentile(pays, 99)
	c50, c99 := percentile(commits, 50), percentile(commits, 99)
	b.ReportMetric(ms(p50), "accepted-p50-ms")
	b.ReportMetric(ms(p99), "accepted-p99-ms")
	b.ReportMetric(ms(percentile(sims, 50)), "accepted-sim-p50-ms")
	b.ReportMetric(ms(percentile(sims, 99)), "accepted-sim-p99-ms")
	e50 := percentile(echoes, 50)
	b.ReportMetric(ms(e50), "pty-echo-p50-ms")
	b.ReportMetric(ms(percentile(echoes, 99)), "pty-echo-p99-ms")
	b.ReportMetric(float64(p50-e50)/float64(c50), "accepted-less-echo/commit-p50")
	b.ReportMetric(ms(c50), "bolt-commit-p50-ms")
	b.ReportMetric(ms(c99), "bolt-commit-p99-ms")
	b.ReportMetric(float64(p50)/float64(c50), "accepted/commit-p50")
	b.ReportMetric(float64(p99)/float64(c99), "accepted/commit-p99")
}

// BenchmarkResultLatency measures, for payments Alipay answers SUCCESS at
// the first inquiry, the time from the fake AMS server choosing that final
// answer to the RESULT frame arriving at the register, and the Alipay calls
// made per payment.
func BenchmarkResultLatency(b *testing.B) {
	r := newRig(b)
	r.start(Options{Interval: 50 * time.Millisecond, CancelAfter: time.Hour, MaxRPS: 100})
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		req := fmt.Sprintf("res-%d", i)
		r.srv.Script(req, alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Processing(1), alipaysim.Success()}})
		r.pay(req, 100, 0)
		r.reg.result(req)
		got := time.Now() // approximates the frame's arrival: result() wakes on it
		var final time.Time
		for _, c := range r.srv.Calls() {
			if c.PaymentRequestID == req && c.Answer == "S SUCCESS" {
				final = c.Time
			}
		}
		if final.IsZero() {
			b.Fatalf("no SUCCESS answer recorded for %s", req)
		}
		lat = append(lat, got.Sub(final))
	}
	b.StopTimer()
	b.ReportMetric(ms(percentile(lat, 50)), "result-p50-ms")
	b.ReportMetric(ms(percentile(lat, 99)), "result-p99-ms")
	b.ReportMetric(float64(len(r.srv.Calls()))/float64(b.N), "calls/payment")
}

// BenchmarkBurst measures how many PAYs a second one register gets
// through one pty when they come back to back, each followed by its own
// inquiries: the register queues b.N PAYs at once; Alipay answers each
// payment PROCESSING once, then SUCCESS (polling.interval 50 ms), and the
// register confirms every RESULT with DONE. pay/s runs to the last
// ACCEPTED, result/s to the last RESULT. The baseline of the same run is
// a raw bbolt commit (a Put in an Update, synced) on the same disk,
// repeated b.N times: commit/s. Run it with -benchtime 1000x.
func BenchmarkBurst(b *testing.B) {
	r := newRig(b)
	r.start(Options{Interval: 50 * time.Millisecond, CancelAfter: time.Hour, MaxRPS: 2000})
	r.pay("warm-up", 100, 0)
	reqs := make([]string, b.N)
	for i := range reqs {
		reqs[i] = fmt.Sprintf("burst-%06d", i)
		r.srv.Script(reqs[i], alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Processing(1), alipaysim.Success()}})
	}
	ctx := postest.Context(b)
	b.ResetTimer()
	start := time.Now()
	for _, req := range reqs {
		if err := r.reg.Send(ctx, device.Pay{Req: req, Amount: 100, Currency: "USD"}); err != nil {
			b.Fatal(err)
		}
	}
	accepted := 0
	if _, err := r.reg.WaitMessage(ctx, func(m device.Message) bool {
		if s, ok := m.(device.Status); ok && strings.HasPrefix(s.Req, "burst-") && s.State == device.StateAccepted {
			accepted++
		}
		return accepted == b.N
	}); err != nil {
		b.Fatalf("%d of %d PAYs accepted: %v", accepted, b.N, err)
	}
	paid := time.Since(start)
	results := 0
	if _, err := r.reg.WaitMessage(ctx, func(m device.Message) bool {
		if res, ok := m.(device.Result); ok && strings.HasPrefix(res.Req, "burst-") {
			results++
		}
		return results == b.N
	}); err != nil {
		b.Fatalf("%d of %d RESULTs: %v", results, b.N, err)
	}
	done := time.Since(start)
	b.StopTimer()

	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	cstart := time.Now()
	for i := range b.N {
		if err := db.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return bk.Put(fmt.Appendf(nil, "k-%06d", i), make([]byte, 600))
		}); err != nil {
			b.Fatal(err)
		}
	}
	commits := time.Since(cstart)
	b.ReportMetric(float64(b.N)/paid.Seconds(), "pay/s")
	b.ReportMetric(float64(b.N)/done.Seconds(), "result/s")
	b.ReportMetric(float64(b.N)/commits.Seconds(), "commit/s")
	b.ReportMetric(commits.Seconds()/paid.Seconds(), "pay/commit")
}

// BenchmarkCommits counts the synced commits per payment for payments
// that Alipay answers PROCESSING to 2, 20 and 60 inquiries before SUCCESS
// (at polling.interval 1 s: payments that take 2, 20 and 60 s; here the
// interval is 20 ms so that the benchmark is quick), each followed by the
// register's DONE. It counts by bbolt's transaction id, which every
// commit, and nothing else, moves on by one; every commit is two
// fdatasync calls. A run of the agent that takes no payment, started and
// stopped the same way, is the baseline subtracted. Run it with
// -benchtime 1x.
func BenchmarkCommits(b *testing.B) {
	const perRun = 5
	for range b.N {
		base := commitsOfRun(b, 0, 0)
		for _, polls := range []int{2, 20, 60} {
			n := commitsOfRun(b, polls, perRun)
			b.ReportMetric(float64(n-base)/perRun, fmt.Sprintf("commits/pay-%dpolls", polls))
		}
		b.ReportMetric(float64(base), "commits-baseline")
	}
}

// commitsOfRun runs an agent on a new store for n payments, each answered
// PROCESSING polls times and then SUCCESS, waits until every RESULT is
// confirmed by a DONE that was committed, stops the agent and returns the
// store's transaction id.
func commitsOfRun(b *testing.B, polls, n int) int {
	r := newRig(b)
	r.start(Options{Interval: 20 * time.Millisecond, CancelAfter: time.Hour, MaxRPS: 1000})
	var reqs []string
	for i := range n {
		req := fmt.Sprintf("commits-%d-%d", polls, i)
		r.srv.Script(req, alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Processing(polls), alipaysim.Success()}})
		reqs = append(reqs, req)
		if st := r.pay(req, 100, 0); st.State != device.StateAccepted {
			b.Fatalf("PAY answered %+v", st)
		}
	}
	for _, req := range reqs {
		r.reg.result(req)
	}
	// A QUERY sent after the DONEs is answered after they were committed.
	r.reg.request(device.Query{Req: "commits-query"})
	r.halt()
	db, err := bolt.Open(r.dbPath, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var id int
	db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
	return id
}
