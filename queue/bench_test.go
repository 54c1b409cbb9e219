package queue

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkRawBoltUpdate is the baseline for Accept and Transition: one
// bbolt Update putting one value the size of an accepted payment's record,
// synced like every store commit.
func BenchmarkRawBoltUpdate(b *testing.B) {
	c := newClock()
	p := newPayment(c, "pos-000000")
	rec := mustAcceptedRecord(b, c, p)
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), fileMode, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	bucket := []byte("payments")
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(rec)))
	i := 0
	for b.Loop() {
		key := fmt.Appendf(nil, "pos-%06d", i)
		i++
		if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key, rec) }); err != nil {
			b.Fatal(err)
		}
	}
}

// mustAcceptedRecord is the encoded record Accept stores for p.
func mustAcceptedRecord(b *testing.B, c *clock, p Payment) []byte {
	s := openTest(b, c)
	got := mustAccept(b, s, p)
	rec, err := encode(&got)
	if err != nil {
		b.Fatal(err)
	}
	return rec
}

// BenchmarkAccept stores new payments, one commit each.
func BenchmarkAccept(b *testing.B) {
	c := newClock()
	s := openTest(b, c)
	rec := mustAcceptedRecord(b, c, newPayment(c, "pos-000000"))
	b.SetBytes(int64(len(rec)))
	i := 0
	for b.Loop() {
		mustAccept(b, s, newPayment(c, fmt.Sprintf("pos-%06d", i)))
		i++
	}
}

// BenchmarkTransition makes pending payments final (Finish: the record,
// the due index and the outbox in one commit).
func BenchmarkTransition(b *testing.B) {
	c := newClock()
	s := openTest(b, c)
	rec := mustAcceptedRecord(b, c, newPayment(c, "pos-000000"))
	b.SetBytes(int64(len(rec)))
	const batch = 10000
	stock, i := 0, 0
	for b.Loop() {
		if i == stock { // accept the next batch of payments untimed
			b.StopTimer()
			stockUp(b, s, c, stock, batch)
			stock += batch
			b.StartTimer()
		}
		r := Result{Status: Success, PaymentID: "pid", Code: "SUCCESS", Time: "2026-11-30T20:00:00+08:00"}
		if _, err := s.Finish(fmt.Sprintf("bench-%07d", i), r, Event{Call: CallInquiry, ResultStatus: "S", PaymentStatus: "SUCCESS"}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// stockUp stores n pending payments bench-<from>... in one transaction.
func stockUp(b *testing.B, s *Store, c *clock, from, n int) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i := from; i < from+n; i++ {
			p := newPayment(c, fmt.Sprintf("bench-%07d", i))
			p.State, p.NextAt = Pending, p.AcceptedAt
			p.Audit = []Event{{Time: p.AcceptedAt, Call: CallAccept}}
			if err := writeRecord(tx, nil, &p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// buildLarge writes n fixture payments (a third of them pending) into a
// fresh file, 10,000 per transaction, and returns its path.
func buildLarge(b *testing.B, n int) string {
	path := filepath.Join(b.TempDir(), "large.db")
	s, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := newClock().Now()
	for from := 0; from < n; from += 10000 {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for i := from; i < min(from+10000, n); i++ {
				p := fixturePayment(now, i)
				if err := writeRecord(tx, nil, &p); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return path
}

// BenchmarkDue asks for the next 100 due payments among 100,000 stored
// (33,334 of them pending).
func BenchmarkDue(b *testing.B) {
	s, err := Open(buildLarge(b, 100000), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := newClock().Now().Add(time.Hour)
	for b.Loop() {
		due, err := s.Due(now, 100)
		if err != nil || len(due) != 100 {
			b.Fatalf("Due = %d payments, %v", len(due), err)
		}
	}
}

// BenchmarkNext finds the earliest next action among 100,000 payments.
func BenchmarkNext(b *testing.B) {
	s, err := Open(buildLarge(b, 100000), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for b.Loop() {
		if _, ok, err := s.Next(); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkOpen opens and closes a file of 100,000 payments, which runs
// the full integrity check each time.
func BenchmarkOpen(b *testing.B) {
	path := buildLarge(b, 100000)
	for b.Loop() {
		s, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if s.Report() != nil {
			b.Fatal(s.Report())
		}
		s.Close()
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/open")
}

// BenchmarkOpenDamaged opens a file of about 100 MB (50,000 payments) with
// a run of garbled bytes in the middle, which fails the integrity check and
// is salvaged. `posagent run` must serve the register within 10 s of
// starting on such a file; this measures the store's part of that.
func BenchmarkOpenDamaged(b *testing.B) {
	clean := buildLarge(b, 50000)
	data, err := os.ReadFile(clean)
	if err != nil {
		b.Fatal(err)
	}
	mid := len(data) / 2
	for i := mid; i < mid+64; i++ {
		data[i] ^= 0xA5
	}
	path := filepath.Join(b.TempDir(), "damaged.db")
	for b.Loop() {
		b.StopTimer()
		os.RemoveAll(filepath.Dir(path))
		os.MkdirAll(filepath.Dir(path), 0o700)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		s, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if s.Report() == nil {
			b.Fatal("the damaged file was not salvaged")
		}
		s.Close()
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/open")
	b.ReportMetric(float64(len(data))/1e6, "MB") // after b.Loop, which clears what was reported before it
}
