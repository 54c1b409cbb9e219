package reconcile

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestReadReport(t *testing.T) {
	day := "2026-11-30T10:00:00+08:00"
	base := reportText(transactionColumns,
		payment("pos-1", "2026113011", "12.50", "USD", day),
		refund("rf-1", "2026113099", "2026113011", "2.50", "USD", day),
		tx{"transactionType": "DISPUTE", "transactionId": "d-1"},
	)
	reversed := slices.Clone(transactionColumns)
	slices.Reverse(reversed)
	tests := []struct {
		name    string
		text    string
		opts    ReadOptions
		rows    int    // PAYMENT, CANCEL and REFUND rows read
		wantErr string // part of the error; "" for none
	}{
		{name: "as documented", text: base, rows: 2},
		{name: "columns in another order", text: reportText(reversed, payment("pos-1", "p1", "12.50", "USD", day)), rows: 1},
		{name: "settlement report", text: reportText(settlementColumns, payment("pos-1", "p1", "12.50", "USD", day)), rows: 1},
		{name: "UTF-8 byte order mark", text: "\ufeff" + base, rows: 2},
		{name: "CRLF line ends", text: strings.ReplaceAll(base, "\n", "\r\n"), rows: 2},
		{name: "BOM and CRLF", text: "\ufeff" + strings.ReplaceAll(base, "\n", "\r\n"), rows: 2},
		{name: "no newline after END", text: strings.TrimSuffix(base, "\n"), rows: 2},
		{name: "blank lines after END", text: base + "\n\n", rows: 2},
		{name: "END padded with commas", text: strings.Replace(base, endMarker, endMarker+strings.Repeat(",", len(transactionColumns)-1), 1), rows: 2},
		{name: "only a header and END", text: reportText(transactionColumns), rows: 0},
		{name: "header with blanks", text: strings.Replace(base, "transactionType,", " transactionType ,", 1), rows: 2},
		{name: "time without offset is UTC+8", text: reportText(transactionColumns, payment("pos-1", "p1", "1250", "JPY", "2026-11-30 10:00:00")), rows: 1},
		{name: "amount without decimals", text: reportText(transactionColumns, payment("pos-1", "p1", "12", "USD", day)), rows: 1},
		{name: "negative refund", text: reportText(transactionColumns, refund("rf", "r", "p", "-2.50", "USD", day)), rows: 1},

		{name: "missing END", text: strings.TrimSuffix(base, endMarker+"\n"), wantErr: "does not end with the <END> line"},
		{name: "missing END allowed", text: strings.TrimSuffix(base, endMarker+"\n"), opts: ReadOptions{AllowMissingEnd: true}, rows: 2},
		{name: "cut inside a row", text: base[:strings.Index(base, "REFUND")], wantErr: "line 3: has 11 fields where the header has 15"},
		{name: "cut inside a row, END not asked for", text: base[:strings.Index(base, "REFUND")], opts: ReadOptions{AllowMissingEnd: true}, wantErr: "line 3: has 11 fields"},
		{name: "cut inside a quoted field", text: strings.Replace(base, "ALIPAY_CN", `"ALIPAY`, 1)[:strings.Index(base, "ALIPAY_CN")+5], wantErr: "not well-formed CSV"},
		{name: "cut after a row", text: base[:strings.Index(base, "2026113099")-20], wantErr: "line 3: has"},
		{name: "row after END", text: base + "x,y\n", wantErr: "more after the <END> line"},
		{name: "empty file", text: "", wantErr: "is empty"},
		{name: "BOM only", text: "\ufeff", wantErr: "is empty"},
		{name: "missing transactionRequestId", text: reportText(without(transactionColumns, "transactionRequestId")), wantErr: "has no transactionRequestId column"},
		{name: "missing transactionAmountValue", text: reportText(without(transactionColumns, "transactionAmountValue")), wantErr: "has no transactionAmountValue column"},
		{name: "missing currency", text: reportText(without(transactionColumns, "transactionCurrency")), wantErr: "has no transactionCurrency column"},
		{name: "missing time", text: reportText(without(transactionColumns, "transactionTime")), wantErr: "has no transactionTime column (or paymentTime)"},
		{name: "missing type", text: reportText(without(transactionColumns, "transactionType")), wantErr: "has no transactionType column"},
		{name: "column named twice", text: reportText(append(slices.Clone(transactionColumns), "transactionId")), wantErr: "names the column transactionId twice"},
		{name: "not a CSV report", text: "hello\nworld\n<END>\n", wantErr: "has no transactionRequestId column"},
		{name: "amount with a comma", text: reportText(transactionColumns, payment("pos-1", "p1", "1,250.00", "USD", day)), wantErr: "line 2: has an amount that does not read"},
		{name: "amount too precise", text: reportText(transactionColumns, payment("pos-1", "p1", "12.505", "USD", day)), wantErr: "more decimals than USD has"},
		{name: "amount with decimals in JPY", text: reportText(transactionColumns, payment("pos-1", "p1", "12.5", "JPY", day)), wantErr: "more decimals than JPY has"},
		{name: "amount empty", text: reportText(transactionColumns, payment("pos-1", "p1", "", "USD", day)), wantErr: "amount that does not read"},
		{name: "negative payment", text: reportText(transactionColumns, payment("pos-1", "p1", "-12.50", "USD", day)), wantErr: "amount that does not read"},
		{name: "unknown currency", text: reportText(transactionColumns, payment("pos-1", "p1", "12.50", "US$", day)), wantErr: "not an ISO 4217 code"},
		{name: "bad time", text: reportText(transactionColumns, payment("pos-1", "p1", "12.50", "USD", "30/11/2026")), wantErr: `time "30/11/2026"`},
		{name: "payment without request id", text: reportText(transactionColumns, payment("", "p1", "12.50", "USD", day)), wantErr: "PAYMENT without a transactionRequestId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Read(strings.NewReader(tt.text), "day.csv", tt.opts)
			if tt.wantErr != "" {
				var ie *InputError
				if err == nil || !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "day.csv") {
					t.Fatalf("Read: %v; want an *InputError about day.csv with %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("the error is more than one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if len(rep.Rows) != tt.rows {
				t.Fatalf("read %d rows; want %d: %+v", len(rep.Rows), tt.rows, rep.Rows)
			}
			if rep.NoEnd != tt.opts.AllowMissingEnd {
				t.Errorf("NoEnd = %v", rep.NoEnd)
			}
		})
	}
}

func TestReadReportFields(t *testing.T) {
	text := "\ufeff" + strings.ReplaceAll(reportText(settlementColumns,
		payment("pos-7", "2026113007", "1.250", "KWD", "2026-11-30T23:59:59+08:00"),
		cancel("pos-8", "2026113008", "2026113008", "1250", "JPY", "2026-11-30 08:00:00"),
	), "\n", "\r\n")
	rep, err := Read(strings.NewReader(text), "s.csv", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{
		{File: "s.csv", Line: 2, Type: TypePayment, RequestID: "pos-7", TransactionID: "2026113007", Time: time.Date(2026, 11, 30, 15, 59, 59, 0, time.UTC)},
		{File: "s.csv", Line: 3, Type: TypeCancel, RequestID: "pos-8", TransactionID: "2026113008", OriginalID: "2026113008", Time: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)},
	}
	want[0].Amount.Currency, want[0].Amount.Value = "KWD", "1250"
	want[1].Amount.Currency, want[1].Amount.Value = "JPY", "1250"
	for i, r := range rep.Rows {
		if !r.Time.Equal(want[i].Time) {
			t.Errorf("row %d time %v; want %v", i, r.Time, want[i].Time)
		}
		r.Time = want[i].Time
		if r != want[i] {
			t.Errorf("row %d = %+v; want %+v", i, r, want[i])
		}
	}
}

func TestReadFileNamesTheFile(t *testing.T) {
	_, err := ReadFile("/nonexistent/day.csv", ReadOptions{})
	var ie *InputError
	if !errors.As(err, &ie) || !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "/nonexistent/day.csv: ") {
		t.Errorf("ReadFile of a missing file: %v", err)
	}
}

// without returns cols without the column name.
func without(cols []string, name string) []string {
	return slices.DeleteFunc(slices.Clone(cols), func(c string) bool { return c == name })
}
