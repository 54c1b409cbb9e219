package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Output formats.
const (
	FormatTable = "table" // for people: the closing printout
	FormatCSV   = "csv"   // one total a row, for scripts
	FormatJSON  = "json"  // the whole Report, for scripts
)

// sumNames name the sums of Totals in the order of Totals.sums: the
// statuses of the CSV and the labels of the table.
var sumNames = []struct{ csv, table string }{
	{"SUCCESS", "SUCCESS"},
	{"FAIL", "FAIL"},
	{"CANCELLED", "CANCELLED"},
	{"OPEN", "still open"},
	{"FOLLOW_UP", "follow-up"},
	{"UNDELIVERED", "unconfirmed"},
}

// csvColumns are the CSV header; Write keeps the same order.
var csvColumns = []string{"day", "currency", "status", "count", "amount_minor", "amount"}

// Write writes r to w in format: FormatTable, FormatCSV or FormatJSON.
// The CSV has six rows per currency (SUCCESS, FAIL, CANCELLED, OPEN,
// FOLLOW_UP, UNDELIVERED), zeros included, so that a script finds every
// row it looks for; the payments one by one are in the table and the JSON.
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case FormatTable:
		return writeTable(w, r)
	case FormatCSV:
		cw := csv.NewWriter(w)
		cw.Write(csvColumns)
		for _, t := range r.Currencies {
			for i, s := range t.sums() {
				cw.Write([]string{r.Day, t.Currency, sumNames[i].csv, strconv.Itoa(s.Count), strconv.FormatInt(s.Amount, 10), s.Major})
			}
		}
		cw.Flush()
		return cw.Error()
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return fmt.Errorf("output format %q is not table, csv or json", format)
}

// writeTable writes r for people: the day, the totals of each currency in
// a block 40 columns wide (a receipt printer's line), then the payments
// that still need something.
func writeTable(w io.Writer, r *Report) error {
	tw := &errWriter{w: w}
	tw.printf("Day report %s (%s, %s to %s)\n", r.Day, r.Zone, r.From.Format("2006-01-02 15:04"), r.To.Format("2006-01-02 15:04"))
	if r.Payments == 0 {
		tw.printf("No payment was accepted on %s.\n", r.Day)
		return tw.err
	}
	tw.printf("Payments accepted: %d\n", r.Payments)
	for _, t := range r.Currencies {
		tw.printf("\n%-16s %6s %16s\n", t.Currency, "count", "total")
		for i, s := range t.sums() {
			tw.printf("  %-14s %6d %16s\n", sumNames[i].table, s.Count, s.Major)
		}
	}
	sections := []struct {
		title, none, what string
		lines             []Line
	}{
		{"Still open", "none", "not final yet; posagent keeps asking Alipay. Print the report again later.", r.Open},
		{"Flagged for a person", "none", "look at each in posagent queue show REQ and do what its note says.", r.FollowUp},
		{"Results not confirmed by the register", "none", "the register has not answered DONE; posagent sends them again until it does.", r.Undelivered},
	}
	for _, sec := range sections {
		if len(sec.lines) == 0 {
			tw.printf("\n%s: %s.\n", sec.title, sec.none)
			continue
		}
		tw.printf("\n%s (%d): %s\n", sec.title, len(sec.lines), sec.what)
		tab := tabwriter.NewWriter(tw, 0, 0, 2, ' ', 0)
		for _, l := range sec.lines {
			state := string(l.State)
			if l.Code != "" {
				state += " " + l.Code
			}
			fmt.Fprintf(tab, "  %s\t%s\t%s %s\t%s\t%s\n", l.AcceptedAt.Format("15:04:05"), l.RequestID, l.Major, l.Currency, state, lane(l.Lane))
			if l.FollowUp != "" {
				fmt.Fprintf(tab, "  \twhy: %s\n", oneLine(l.FollowUp))
			}
		}
		tab.Flush()
	}
	return tw.err
}

func lane(l string) string {
	if l == "" {
		return ""
	}
	return "lane " + l
}

// oneLine keeps a stored note on one line of the printout.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// errWriter keeps the first write error, so the table is written without
// a check on every line.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	fmt.Fprintf(e, format, args...)
}
