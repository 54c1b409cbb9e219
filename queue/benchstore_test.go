package queue

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestWriteBenchStore writes a store of POSAGENT_BENCH_STORE_N payments at
// the path POSAGENT_BENCH_STORE, for the start-up benchmark of the agent
// (agent/startup_bench_unix_test.go), which runs it with `go test`; it is
// skipped without them. The payments are what a terminal keeps: all
// final and delivered, with an audit trail of four events, 10,000 per
// transaction, accepted over the last days.
func TestWriteBenchStore(t *testing.T) {
	path := os.Getenv("POSAGENT_BENCH_STORE")
	n, err := strconv.Atoi(os.Getenv("POSAGENT_BENCH_STORE_N"))
	if path == "" || err != nil {
		t.Skip("set POSAGENT_BENCH_STORE and POSAGENT_BENCH_STORE_N to write a store for the start-up benchmark")
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now().UTC().Add(-time.Duration(n) * time.Second)
	for from := 0; from < n; from += 10000 {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for i := from; i < min(from+10000, n); i++ {
				at := start.Add(time.Duration(i) * time.Second)
				p := Payment{
					RequestID: fmt.Sprintf("hist-%08d", i), PaymentID: fmt.Sprintf("20261130%012d", i),
					Amount: int64(100 + i%10000), Currency: "USD", Lane: "2",
					AcceptedAt: at, Deadline: at.Add(5 * time.Minute), State: Success,
					Result:     Result{Status: Success, PaymentID: fmt.Sprintf("20261130%012d", i), Code: "SUCCESS", Message: "success", Time: at.Add(20 * time.Second).Format(time.RFC3339)},
					FinishedAt: at.Add(20 * time.Second), DeliveredAt: at.Add(21 * time.Second), Inquiries: 3,
					Track: Track{Known: true, CreatedAt: at},
					Audit: []Event{
						{Time: at, Call: CallAccept},
						{Time: at.Add(3 * time.Second), Call: CallInquiry, ResultStatus: "S", Code: "SUCCESS", PaymentStatus: "PROCESSING"},
						{Time: at.Add(20 * time.Second), Call: CallInquiry, ResultStatus: "S", Code: "SUCCESS", PaymentStatus: "SUCCESS"},
						{Time: at.Add(21 * time.Second), Call: CallDeliver},
					},
				}
				if err := writeRecord(tx, nil, &p); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
