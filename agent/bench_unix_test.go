//go:build unix

package agent

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/posagent/posagent/alipay/alipaysim"
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
func BenchmarkPayAccepted(b *testing.B) {
	r := newRig(b)
	r.start(Options{Interval: time.Hour, CancelAfter: 24 * time.Hour, MaxRPS: 100})
	r.pay("warm-up", 100, 0)

	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var pays, commits []time.Duration
	b.ResetTimer()
	next := time.Now()
	for i := range b.N {
		time.Sleep(time.Until(next))
		req := fmt.Sprintf("bench-%d", i)
		start := time.Now()
		if st := r.pay(req, 100, 0); st.State != "ACCEPTED" {
			b.Fatalf("PAY answered %+v", st)
		}
		pays = append(pays, time.Since(start))

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
		next = next.Add(payGap)
	}
	b.StopTimer()
	p50, p99 := percentile(pays, 50), percentile(pays, 99)
	c50, c99 := percentile(commits, 50), percentile(commits, 99)
	b.ReportMetric(ms(p50), "accepted-p50-ms")
	b.ReportMetric(ms(p99), "accepted-p99-ms")
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
