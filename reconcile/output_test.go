package reconcile

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/queue"
)

func sampleResult() *Result {
	at := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
	return &Result{
		Files: []string{"day.csv"}, From: at.Add(-12 * time.Hour), To: at.Add(12 * time.Hour), Rows: 4, Other: 1, Matched: 2,
		Findings: []Finding{
			{Kind: AmountDiffers, RequestID: "pos-1", PaymentID: "P-1", State: queue.Success,
				Amount: &alipay.Amount{Currency: "USD", Value: "1250"}, Alipay: "PAYMENT", AlipayAmount: &alipay.Amount{Currency: "USD", Value: "1200"},
				Time: at, Rows: []string{"day.csv:2"}, Action: "refund, or collect the difference"},
			{Kind: NotCovered, RequestID: "pos-2", State: queue.Pending, Amount: &alipay.Amount{Currency: "JPY", Value: "1250"}, Time: at.Add(24 * time.Hour), Action: "later"},
		},
	}
}

func TestWriteFormats(t *testing.T) {
	res := sampleResult()

	var b bytes.Buffer
	if err := Write(&b, res, FormatTable); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Reports: day.csv", "2026-11-29T16:00:00Z", "Amount or currency differs (1):", "SUCCESS 12.50 USD", "PAYMENT 12.00 USD",
		"After the reports' period", "PENDING 1250 JPY", "1 discrepancies need a person."} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}

	b.Reset()
	if err := Write(&b, res, FormatCSV); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || strings.Join(recs[0], ",") != strings.Join(csvColumns, ",") {
		t.Fatalf("csv: %q", recs)
	}
	if got := strings.Join(recs[1], "|"); got != "amount_differs|true|pos-1|P-1|SUCCESS|12.50|USD|PAYMENT|12.00|USD|2026-11-30T04:00:00Z|day.csv:2|refund, or collect the difference" {
		t.Errorf("csv row %s", got)
	}
	if recs[2][1] != "false" || recs[2][5] != "1250" || recs[2][8] != "" {
		t.Errorf("csv row %q", recs[2])
	}

	b.Reset()
	if err := Write(&b, res, FormatJSON); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Discrepancies int            `json:"discrepancies"`
		Counts        map[string]int `json:"counts"`
		Matched       int            `json:"matched"`
		Findings      []struct {
			Kind   string        `json:"kind"`
			Amount alipay.Amount `json:"amount"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(b.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if out.Discrepancies != 1 || out.Counts["not_covered"] != 1 || out.Counts["paid_not_success"] != 0 || out.Matched != 2 ||
		len(out.Findings) != 2 || out.Findings[0].Amount.Value != "1250" {
		t.Errorf("json: %s", b.String())
	}

	if err := Write(&b, res, "xml"); err == nil {
		t.Error("Write accepted the format xml")
	}
}

func TestWriteTableNothingDiffers(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, &Result{Files: []string{"a.csv", "b.csv"}, Matched: 3}, FormatTable); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Nothing differs.") || !strings.Contains(b.String(), "a.csv, b.csv") {
		t.Errorf("table:\n%s", b.String())
	}
}
