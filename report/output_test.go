package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/posagent/posagent/queue"
)

// sampleReport is a day with every kind of line: USD and JPY, a flagged
// FAIL, an open payment and an unconfirmed result.
func sampleReport(t *testing.T) *Report {
	t.Helper()
	var ps []queue.Payment
	for _, p := range []pay{
		{"pos-1", 1250, "USD", at(0, 9, 0, 0), queue.Success, false, ""},
		{"pos-2", 990, "USD", at(0, 10, 0, 0), queue.Fail, false, "Alipay has no record\nof this payment"},
		{"pos-3", 500, "USD", at(0, 11, 0, 0), queue.Pending, false, ""},
		{"pos-4", 1500, "JPY", at(0, 12, 0, 0), queue.Success, true, ""},
	} {
		ps = append(ps, p.payment())
	}
	r, err := Build(ps, day30)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func write(t *testing.T, r *Report, format string) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, r, format); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestWriteTable(t *testing.T) {
	out := write(t, sampleReport(t), FormatTable)
	for _, want := range []string{
		"Day report 2026-11-30 (CST, 2026-11-30 00:00 to 2026-12-01 00:00)",
		"Payments accepted: 4",
		"JPY               count            total",
		"  SUCCESS             1             1500",
		"USD               count            total",
		"  SUCCESS             1            12.50",
		"  FAIL                1             9.90",
		"  CANCELLED           0             0.00",
		"  still open          1             5.00",
		"  follow-up           1             9.90",
		"  unconfirmed         0             0.00",
		"Still open (1):",
		"  11:00:00  pos-3  5.00 USD  PENDING  lane 2",
		"Flagged for a person (1):",
		"why: Alipay has no record of this payment",
		"Results not confirmed by the register (1):",
		"  12:00:00  pos-4  1500 JPY  SUCCESS  lane 2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "JPY") > strings.Index(out, "USD") {
		t.Errorf("currencies not in code order:\n%s", out)
	}
}

func TestWriteTableOfADayWithNothing(t *testing.T) {
	r, err := Build(nil, day30)
	if err != nil {
		t.Fatal(err)
	}
	out := write(t, r, FormatTable)
	if want := "Day report 2026-11-30 (CST, 2026-11-30 00:00 to 2026-12-01 00:00)\nNo payment was accepted on 2026-11-30.\n"; out != want {
		t.Errorf("table %q; want %q", out, want)
	}
	if out := write(t, r, FormatCSV); out != strings.Join(csvColumns, ",")+"\n" {
		t.Errorf("csv %q; want the header alone", out)
	}
	if out := write(t, r, FormatJSON); !strings.Contains(out, `"currencies": []`) || !strings.Contains(out, `"open": []`) {
		t.Errorf("json %s; want empty lists, not null", out)
	}
}

func TestWriteCSVHasSixRowsPerCurrency(t *testing.T) {
	rows, err := csv.NewReader(strings.NewReader(write(t, sampleReport(t), FormatCSV))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+2*6 {
		t.Fatalf("%d rows; want the header and 12:\n%q", len(rows), rows)
	}
	for i, want := range map[int]string{
		0:  "day,currency,status,count,amount_minor,amount",
		1:  "2026-11-30,JPY,SUCCESS,1,1500,1500",
		6:  "2026-11-30,JPY,UNDELIVERED,1,1500,1500",
		7:  "2026-11-30,USD,SUCCESS,1,1250,12.50",
		8:  "2026-11-30,USD,FAIL,1,990,9.90",
		9:  "2026-11-30,USD,CANCELLED,0,0,0.00",
		10: "2026-11-30,USD,OPEN,1,500,5.00",
		11: "2026-11-30,USD,FOLLOW_UP,1,990,9.90",
	} {
		if got := strings.Join(rows[i], ","); got != want {
			t.Errorf("row %d = %s; want %s", i, got, want)
		}
	}
}

func TestWriteJSONReadsBack(t *testing.T) {
	r := sampleReport(t)
	var back Report
	if err := json.Unmarshal([]byte(write(t, r, FormatJSON)), &back); err != nil {
		t.Fatal(err)
	}
	if back.Day != r.Day || !back.From.Equal(r.From) || back.Payments != 4 || len(back.Currencies) != 2 ||
		back.Currencies[1].Fail != (Sum{1, 990, "9.90"}) || len(back.FollowUp) != 1 || back.FollowUp[0].RequestID != "pos-2" {
		t.Errorf("read back %+v", back)
	}
	if got := write(t, r, FormatJSON); !strings.Contains(got, `"from": "2026-11-30T00:00:00+08:00"`) || !strings.Contains(got, `"acceptedAt": "2026-11-30T10:00:00+08:00"`) {
		t.Errorf("JSON times are not in the day's zone:\n%s", got)
	}
}

func TestWriteRefusesAnUnknownFormat(t *testing.T) {
	if err := Write(&bytes.Buffer{}, sampleReport(t), "xml"); err == nil {
		t.Error("xml taken")
	}
}
