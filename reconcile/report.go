package reconcile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/posagent/posagent/alipay"
)

// The transaction types the matching reads; rows of other types
// (AUTHORIZATION, CAPTURE, DISPUTE...) are counted and left aside.
const (
	TypePayment = "PAYMENT"
	TypeCancel  = "CANCEL"
	TypeRefund  = "REFUND"
)

// endMarker is the last line of every report.
const endMarker = "<END>"

// column is one column the reading needs, under the names the reports give
// it: the first is the name the report pages use, the others names some
// versions of the reports use instead.
type column struct {
	names    []string
	required bool
}

// The columns read. A report holds many more; they are ignored.
var (
	colRequest         = column{[]string{"transactionRequestId"}, true}
	colTransaction     = column{[]string{"transactionId"}, true}
	colType            = column{[]string{"transactionType"}, true}
	colAmount          = column{[]string{"transactionAmountValue"}, true}
	colCurrency        = column{[]string{"transactionCurrency"}, true}
	colTime            = column{[]string{"transactionTime", "paymentTime"}, true}
	colOriginal        = column{[]string{"originalTransactionId"}, false}
	colOriginalRequest = column{[]string{"originalTransactionRequestId"}, false}
)

// columns lists them in the order a missing one is reported.
var columns = []*column{&colRequest, &colTransaction, &colType, &colAmount, &colCurrency, &colTime, &colOriginal, &colOriginalRequest}

// antomZone is the time zone of Antom's transaction days (UTC+8): a
// report's day runs from 00:00 to 24:00 there, and a time written without
// an offset is read in it.
var antomZone = time.FixedZone("UTC+8", 8*60*60)

// Row is one transaction of a report, as the matching uses it.
type Row struct {
	File string // the report it is from
	Line int    // its line in the file, from 1

	Type          string // transactionType: PAYMENT, CANCEL, REFUND...
	RequestID     string // transactionRequestId: paymentRequestId, or refundRequestId for a refund
	TransactionID string // transactionId: paymentId for a payment or a cancel
	// OriginalID is the paymentId of the payment a cancel or refund undoes
	// (originalTransactionId); OriginalRequestID its paymentRequestId,
	// where the report has that column.
	OriginalID        string
	OriginalRequestID string
	Amount            alipay.Amount // in minor units
	Time              time.Time
}

// Report is one report file, read whole.
type Report struct {
	Path string
	Rows []Row // the rows of the types the matching reads, in file order
	// Other counts the rows of other transaction types, left aside.
	Other int
	// NoEnd is set when the file did not end with <END> and was read all
	// the same (ReadOptions.AllowMissingEnd).
	NoEnd bool
}

// ReadOptions adjust how a report is read. The zero value is the strict
// reading.
type ReadOptions struct {
	// AllowMissingEnd reads a file whose last line is not <END> instead of
	// refusing it as possibly cut short.
	AllowMissingEnd bool
}

// InputError is a report that cannot be used: a file that cannot be read,
// is not a report, lacks a column, is incomplete or holds a row that does
// not read. Its message is one sentence naming the file, and the line or
// the column where there is one.
type InputError struct {
	Path string
	Line int // 0 when the problem is not on one line
	Msg  string
	Err  error // the underlying error, if any
}

func (e *InputError) Error() string {
	where := e.Path
	if e.Line > 0 {
		where = fmt.Sprintf("%s, line %d", e.Path, e.Line)
	}
	return where + ": " + e.Msg
}

func (e *InputError) Unwrap() error { return e.Err }

// ReadFile reads the report at path.
func ReadFile(path string, opts ReadOptions) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &InputError{Path: path, Msg: "cannot be opened; check the path and that you may read it", Err: err}
	}
	defer f.Close()
	return Read(f, path, opts)
}

// Read reads a report from r; name says where it comes from in errors and
// rows. The file is a header line of parameter names, one line per
// transaction, and <END> as its last line; it may begin with a UTF-8 byte
// order mark and end its lines with CRLF.
func Read(r io.Reader, name string, opts ReadOptions) (*Report, error) {
	br := bufio.NewReader(r)
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // checked here, to say which line is short
	cr.ReuseRecord = true
	fail := func(line int, format string, args ...any) error {
		return &InputError{Path: name, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fail(0, "is empty; a report begins with a header line of column names and ends with %s", endMarker)
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	index, err := headerIndex(name, header)
	if err != nil {
		return nil, err
	}
	width := len(header)
	rep := &Report{Path: name}
	ended := false
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		if ended {
			return nil, fail(line, "holds more after the %s line that ends a report; the file is not one report", endMarker)
		}
		if isEnd(rec) {
			ended = true
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line with blanks in it
		}
		if len(rec) != width {
			return nil, fail(line, "has %d fields where the header has %d; the file is damaged or cut short, fetch it again", len(rec), width)
		}
		row, keep, err := readRow(name, line, rec, index)
		if err != nil {
			return nil, err
		}
		if keep {
			rep.Rows = append(rep.Rows, row)
		} else {
			rep.Other++
		}
	}
	if !ended {
		if !opts.AllowMissingEnd {
			return nil, fail(0, "does not end with the %s line, so it may be cut short; fetch it again, or give -allow-missing-end to read it as it is", endMarker)
		}
		rep.NoEnd = true
	}
	return rep, nil
}

// isEnd reports whether rec is the <END> line, alone or padded with empty
// fields to the header's width.
func isEnd(rec []string) bool {
	if strings.TrimSpace(rec[0]) != endMarker {
		return false
	}
	for _, f := range rec[1:] {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// csvError is an error of the CSV reader as an InputError on its line.
func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &InputError{Path: name, Line: pe.Line, Msg: fmt.Sprintf("is not well-formed CSV (%v); the file is damaged or cut short, fetch it again", pe.Err), Err: err}
	}
	return &InputError{Path: name, Msg: fmt.Sprintf("cannot be read: %v", err), Err: err}
}

// headerIndex maps each column to its position in header, refusing a
// header that lacks a required column or names one twice.
func headerIndex(name string, header []string) (map[*column]int, error) {
	pos := map[string]int{}
	for i, h := range header {
		key := strings.ToLower(strings.TrimSpace(h))
		if _, dup := pos[key]; dup && key != "" {
			return nil, &InputError{Path: name, Line: 1, Msg: fmt.Sprintf("names the column %s twice, so it cannot be read by name", strings.TrimSpace(h))}
		}
		pos[key] = i
	}
	index := map[*column]int{}
	for _, c := range columns {
		for _, n := range c.names {
			if i, ok := pos[strings.ToLower(n)]; ok {
				index[c] = i
				break
			}
		}
		if _, ok := index[c]; !ok && c.required {
			also := ""
			if len(c.names) > 1 {
				also = " (or " + strings.Join(c.names[1:], ", ") + ")"
			}
			return nil, &InputError{Path: name, Line: 1, Msg: fmt.Sprintf("has no %s column%s; give a transaction details or settlement details report from Antom", c.names[0], also)}
		}
	}
	return index, nil
}

// readRow reads one transaction line. keep is false for a transaction
// type the matching does not read, which is not checked further.
func readRow(name string, line int, rec []string, index map[*column]int) (row Row, keep bool, err error) {
	get := func(c *column) string {
		if i, ok := index[c]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	row = Row{
		File: name, Line: line,
		Type:              strings.ToUpper(get(&colType)),
		RequestID:         get(&colRequest),
		TransactionID:     get(&colTransaction),
		OriginalID:        get(&colOriginal),
		OriginalRequestID: get(&colOriginalRequest),
	}
	switch row.Type {
	case TypePayment, TypeCancel, TypeRefund:
	default:
		return row, false, nil
	}
	fail := func(format string, args ...any) (Row, bool, error) {
		return Row{}, false, &InputError{Path: name, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if row.Type == TypePayment && row.RequestID == "" {
		return fail("is a PAYMENT without a transactionRequestId")
	}
	value, currency := get(&colAmount), get(&colCurrency)
	if row.Type != TypePayment {
		// Some reports write what goes back to the customer as negative.
		value = strings.TrimPrefix(value, "-")
	}
	amount, err := alipay.ParseMajor(value, currency)
	if err != nil {
		return fail("has an amount that does not read (%v); the report must give the %s in the main unit, such as 12.50", err, colAmount.names[0])
	}
	row.Amount = amount
	raw := get(&colTime)
	t, err := parseTime(raw)
	if err != nil {
		return fail("has a time %q that is neither RFC 3339 (2026-11-30T10:00:00+08:00) nor 2026-11-30 10:00:00", raw)
	}
	row.Time = t
	return row, true, nil
}

// parseTime reads a report's time: RFC 3339 with its offset, or a date and
// time without one, taken in Antom's zone (UTC+8).
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.ParseInLocation(time.DateTime, s, antomZone)
}

// ParseTime reads a -from or -to value: an RFC 3339 instant, or a date
// (2026-11-30) meaning the start of that day in Antom's zone, UTC+8, where
// the reports' days begin.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, antomZone); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a date (2026-11-30, taken at 00:00 UTC+8) nor an RFC 3339 time (2026-11-30T00:00:00+08:00)", s)
}
