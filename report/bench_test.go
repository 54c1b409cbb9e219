package report

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/posagent/posagent/queue"
)

// BenchmarkReadDay reads the report of the last of 20 days of 500 final
// payments each (10,000 stored) from the store file, as `posagent report`
// does without a running agent and the status page's Today panel does on
// every refresh.
func BenchmarkReadDay(b *testing.B) {
	s, err := queue.Open(filepath.Join(b.TempDir(), "posagent.db"), queue.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const days, perDay = 20, 500
	first := time.Date(2026, 11, 1, 8, 0, 0, 0, cst)
	for d := range days {
		for i := range perDay {
			at := first.AddDate(0, 0, d).Add(time.Duration(i) * time.Minute)
			req := fmt.Sprintf("pos-%02d-%03d", d, i)
			if _, _, err := s.Accept(queue.Payment{RequestID: req, Amount: int64(100 + i), Currency: "USD", AcceptedAt: at, Deadline: at.Add(time.Minute)}); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Finish(req, queue.Result{Status: queue.Success}, queue.Event{Time: at, Call: queue.CallInquiry, ResultStatus: "S", PaymentStatus: "SUCCESS"}); err != nil {
				b.Fatal(err)
			}
		}
	}
	day := DayOf(first.AddDate(0, 0, days-1), cst)
	b.ResetTimer()
	for b.Loop() {
		r, err := Read(context.Background(), storeList{s}, day)
		if err != nil || r.Payments != perDay {
			b.Fatalf("%v, %+v", err, r)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/report")
}
