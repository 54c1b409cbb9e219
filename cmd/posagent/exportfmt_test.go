package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/agent/status"
	"github.com/posagent/posagent/queue"
)

// exportStore writes a store with a delivered success, a cancelled payment
// and a pending one, accepted a day apart, closes it and returns its path.
func exportStore(t *testing.T) (string, time.Time) {
	t.Helper()
	day := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "posagent.db")
	s, err := queue.Open(path, queue.Options{Now: func() time.Time { return day.Add(72 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, req := range []string{"pos-1", "pos-2", "pos-3"} {
		at := day.Add(time.Duration(i) * 24 * time.Hour)
		_, _, err := s.Accept(queue.Payment{RequestID: req, Amount: int64(100 * (i + 1)), Currency: "USD", AcceptedAt: at, Deadline: at.Add(time.Minute)})
		must(err)
	}
	_, err = s.Finish("pos-1", queue.Result{Status: queue.Success, PaymentID: "2026112800001", Code: "SUCCESS", Message: "paid, thank you", Time: "2026-11-28T18:00:03+08:00"},
		queue.Event{Time: day.Add(3 * time.Second), Call: queue.CallInquiry, ResultStatus: "S", PaymentStatus: "SUCCESS"})
	must(err)
	must(s.Deliver("pos-1", day.Add(4*time.Second)))
	must(s.StartCancel("pos-2", "TIMEOUT", time.Time{}))
	_, err = s.Finish("pos-2", queue.Result{Status: queue.Cancelled, Code: "TIMEOUT"},
		queue.Event{Time: day.Add(24*time.Hour + time.Minute), Call: queue.CallCancel, ResultStatus: "S"})
	must(err)
	return path, day
}

func export(t *testing.T, path string, since time.Time, format string) string {
	t.Helper()
	r, err := status.OpenReader(path, status.Endpoint{}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out bytes.Buffer
	if err := writeExport(context.Background(), r, &out, since, format); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestExportCSVHasEveryPaymentWithResultAndAuditTrail(t *testing.T) {
	path, day := exportStore(t)
	rows, err := csv.NewReader(strings.NewReader(export(t, path, time.Time{}, exportCSV))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != strings.Join(exportColumns, ",") {
		t.Fatalf("header = %q", rows[0])
	}
	col := func(row []string, name string) string {
		for i, c := range exportColumns {
			if c == name {
				return row[i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want a header and 3 payments", len(rows))
	}
	tests := []struct {
		row                                  []string
		req, state, code, pid, delivered, in string
	}{
		{rows[1], "pos-1", "SUCCESS", "SUCCESS", "2026112800001", day.Add(4 * time.Second).Format(time.RFC3339Nano), "INQUIRY S SUCCESS"},
		{rows[2], "pos-2", "CANCELLED", "TIMEOUT", "", "", "START_CANCEL TIMEOUT"},
		{rows[3], "pos-3", "PENDING", "", "", "", "ACCEPT"},
	}
	for _, tt := range tests {
		if col(tt.row, "req") != tt.req || col(tt.row, "state") != tt.state || col(tt.row, "result_code") != tt.code ||
			col(tt.row, "pid") != tt.pid || col(tt.row, "delivered_at") != tt.delivered || !strings.Contains(col(tt.row, "audit"), tt.in) {
			t.Errorf("row %q, want req %s state %s code %s pid %q delivered %q audit with %q", tt.row, tt.req, tt.state, tt.code, tt.pid, tt.delivered, tt.in)
		}
	}
	if col(rows[1], "result_message") != "paid, thank you" || col(rows[1], "amount") != "100" {
		t.Errorf("pos-1 message %q amount %q", col(rows[1], "result_message"), col(rows[1], "amount"))
	}
}

func TestExportJSONSinceADate(t *testing.T) {
	path, day := exportStore(t)
	var ps []queue.Payment
	if err := json.Unmarshal([]byte(export(t, path, day.Add(24*time.Hour), exportJSON)), &ps); err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].RequestID != "pos-2" || ps[1].RequestID != "pos-3" {
		t.Fatalf("payments %+v, want pos-2 then pos-3", ps)
	}
	if ps[0].Result.Status != queue.Cancelled || len(ps[0].Audit) == 0 {
		t.Errorf("pos-2 = %+v, want CANCELLED with its audit trail", ps[0])
	}
	if out := export(t, path, day.Add(10*24*time.Hour), exportJSON); strings.TrimSpace(out) != "[]" {
		t.Errorf("export after the last payment = %q, want []", out)
	}
}

func TestExportRefusesAnUnknownFormat(t *testing.T) {
	path, _ := exportStore(t)
	r, err := status.OpenReader(path, status.Endpoint{}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := writeExport(context.Background(), r, &bytes.Buffer{}, time.Time{}, "xml"); err == nil || !strings.Contains(err.Error(), "csv or json") {
		t.Errorf("error = %v, want one naming csv and json", err)
	}
}
