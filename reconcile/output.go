package reconcile

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/posagent/posagent/alipay"
)

// Output formats.
const (
	FormatTable = "table" // for people
	FormatCSV   = "csv"   // one finding a row, for scripts
	FormatJSON  = "json"  // the whole Result, for scripts
)

// csvColumns are the CSV header; csvRow keeps the same order.
var csvColumns = []string{
	"kind", "discrepancy", "req", "pid", "state", "amount", "currency",
	"alipay", "alipay_amount", "alipay_currency", "time", "rows", "action",
}

// Write writes res to w in format. Amounts are written in the main unit of
// their currency ("12.50"), as the reports write them; the JSON keeps the
// minor units of AMS amounts.
func Write(w io.Writer, res *Result, format string) error {
	switch format {
	case FormatTable:
		return writeTable(w, res)
	case FormatCSV:
		cw := csv.NewWriter(w)
		cw.Write(csvColumns)
		for _, f := range res.Findings {
			cw.Write(csvRow(f))
		}
		cw.Flush()
		return cw.Error()
	case FormatJSON:
		out := struct {
			*Result
			Discrepancies int          `json:"discrepancies"`
			Counts        map[Kind]int `json:"counts"`
		}{Result: res, Discrepancies: res.Discrepancies(), Counts: res.Counts()}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	return fmt.Errorf("output format %q is not table, csv or json", format)
}

// csvRow is one finding in the order of csvColumns.
func csvRow(f Finding) []string {
	value := func(a *alipay.Amount) (string, string) {
		if a == nil {
			return "", ""
		}
		v, _, _ := strings.Cut(a.FormatMajor(), " ")
		return v, a.Currency
	}
	amt, cur := value(f.Amount)
	aamt, acur := value(f.AlipayAmount)
	return []string{
		string(f.Kind), strconv.FormatBool(f.Kind.Discrepancy()), f.RequestID, f.PaymentID, string(f.State), amt, cur,
		f.Alipay, aamt, acur, timeText(f.Time), strings.Join(f.Rows, " "), f.Action,
	}
}

// writeTable writes res for people: what was compared, one line per
// finding grouped by kind, and the counts.
func writeTable(w io.Writer, res *Result) error {
	fmt.Fprintf(w, "Reports: %s\n", strings.Join(res.Files, ", "))
	fmt.Fprintf(w, "Period:  %s to %s\n", res.From.Format(time.RFC3339), res.To.Format(time.RFC3339))
	fmt.Fprintf(w, "Rows:    %d read, %d of other transaction types left aside", res.Rows, res.Other)
	if res.Unlinked > 0 {
		fmt.Fprintf(w, ", %d cancels or refunds of payments neither the reports nor the store know", res.Unlinked)
	}
	if res.Elsewhere > 0 {
		fmt.Fprintf(w, ", %d of other terminals' payments (request ids without the prefix)", res.Elsewhere)
	}
	fmt.Fprintf(w, "\nMatched: %d payments agree\n", res.Matched)
	counts := res.Counts()
	for _, k := range Kinds() {
		if counts[k] == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s (%d):\n", strings.ToUpper(k.Title()[:1])+k.Title()[1:], counts[k])
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  REQ\tPID\tHERE\tALIPAY\tTIME\tWHAT TO DO")
		for _, f := range res.Findings {
			if f.Kind != k {
				continue
			}
			here := "not stored"
			if f.State != "" {
				here = string(f.State) + " " + amountText(f.Amount)
			}
			there := "nothing"
			if f.Alipay != "" {
				there = f.Alipay
				if f.AlipayAmount != nil {
					there += " " + amountText(f.AlipayAmount)
				}
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", f.RequestID, orDash(f.PaymentID), here, there, timeText(f.Time), f.Action)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	if n := res.Discrepancies(); n > 0 {
		_, err := fmt.Fprintf(w, "%d discrepancies need a person.\n", n)
		return err
	}
	_, err := fmt.Fprintln(w, "Nothing differs.")
	return err
}

func amountText(a *alipay.Amount) string {
	if a == nil {
		return ""
	}
	return a.FormatMajor()
}

// timeText writes t as RFC 3339 in UTC, or nothing for the zero time.
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
