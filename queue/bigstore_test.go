package queue

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestWriteBigStore writes a store of many payments for the big-store
// figures of docs/benchmarks.md; it runs only when POSAGENT_BIGSTORE names
// the file to write and POSAGENT_BIGSTORE_N how many payments (default
// 100000). Each payment goes through the life the agent gives it, in
// batches of 10,000 per transaction: accepted PENDING, then final
// SUCCESS after two inquiries, then delivered, each step rewriting the
// record longer, as the agent's commits do. It prints the file's size and
// how full its pages are.
func TestWriteBigStore(t *testing.T) {
	path := os.Getenv("POSAGENT_BIGSTORE")
	if path == "" {
		t.Skip("set POSAGENT_BIGSTORE to the file to write (and POSAGENT_BIGSTORE_N)")
	}
	n := 100000
	if v := os.Getenv("POSAGENT_BIGSTORE_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A second apart, the last an hour ago: within any retention, so the
	// agent's prune leaves them.
	t0 := time.Now().UTC().Truncate(time.Second).Add(-time.Hour - time.Duration(n)*time.Second)
	const batch = 10000
	start := time.Now()
	for from := 0; from < n; from += batch {
		to := min(from+batch, n)
		step := func(change func(p *Payment)) {
			err := s.db.Update(func(tx *bolt.Tx) error {
				for i := from; i < to; i++ {
					req := fmt.Sprintf("pos-%07d", i)
					var old *Payment
					p := Payment{RequestID: req}
					if v := tx.Bucket(bucketPayments).Get([]byte(req)); v != nil {
						o, err := decode([]byte(req), v)
						if err != nil {
							return err
						}
						old, p = &o, o
					}
					change(&p)
					if err := writeRecord(tx, old, &p); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		step(func(p *Payment) {
			i, _ := strconv.Atoi(p.RequestID[4:])
			at := t0.Add(time.Duration(i) * time.Second)
			*p = Payment{RequestID: p.RequestID, Amount: int64(100 + i%5000), Currency: "USD", Lane: strconv.Itoa(1 + i%8),
				AcceptedAt: at, Deadline: at.Add(5 * time.Minute), NextAt: at, State: Pending,
				Audit: []Event{{Time: at, Call: CallAccept}}}
		})
		step(func(p *Payment) {
			at := p.AcceptedAt
			p.PaymentID = "2026010112345678" + p.RequestID[4:]
			p.Audit = append(p.Audit,
				Event{Time: at.Add(2 * time.Second), Call: CallInquiry, ResultStatus: "S", Code: "SUCCESS", PaymentStatus: "PROCESSING"},
				Event{Time: at.Add(4 * time.Second), Call: CallInquiry, ResultStatus: "S", Code: "SUCCESS", PaymentStatus: "SUCCESS"})
			p.Inquiries = 2
			p.State, p.NextAt, p.FinishedAt = Success, time.Time{}, at.Add(4*time.Second)
			p.Result = Result{Status: Success, PaymentID: p.PaymentID, Code: "SUCCESS", Message: "success", Time: at.Add(3 * time.Second).Format(time.RFC3339)}
		})
		step(func(p *Payment) { p.DeliveredAt = p.FinishedAt.Add(time.Second) })
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	var pages, used int
	s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			st := b.Stats()
			pages += st.LeafPageN + st.BranchPageN + st.LeafOverflowN + st.BranchOverflowN
			used += st.LeafInuse + st.BranchInuse
			return nil
		})
	})
	ps := s.db.Info().PageSize
	fmt.Printf("%d payments in %v: file %.1f MiB, %d pages in the buckets (%.1f MiB), %.0f %% of them used\n",
		n, time.Since(start).Round(time.Second), float64(fi.Size())/(1<<20), pages, float64(pages*ps)/(1<<20), 100*float64(used)/float64(pages*ps))
}
