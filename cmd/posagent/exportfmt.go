package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/posagent/posagent/agent/status"
	"github.com/posagent/posagent/queue"
)

// Export formats.
const (
	exportCSV  = "csv"
	exportJSON = "json"
)

// exportColumns are the CSV header; exportRow keeps the same order.
var exportColumns = []string{
	"req", "pid", "amount", "currency", "lane", "state",
	"accepted_at", "deadline", "finished_at", "delivered_at",
	"result_status", "result_code", "result_message", "result_time",
	"cancel_reason", "inquiries", "cancels", "last_error", "follow_up",
	"audit_dropped", "audit",
}

// writeExport writes every payment accepted at or after since (all when since is
// zero), oldest first, with its final result and audit trail, for
// end-of-day reconciliation and disputes: as CSV (one row per payment, the
// audit trail in the last column, one event per line) or as a JSON array of
// the stored records. It reads through r, so it works whether or not an
// agent is running, a page at a time, and writes each payment as it is
// read: the export of any store holds one page in memory.
func writeExport(ctx context.Context, r status.Reader, w io.Writer, since time.Time, format string) error {
	if format != exportCSV && format != exportJSON {
		return fmt.Errorf("export format %q is not csv or json", format)
	}
	var (
		add   func(p *queue.Payment) error
		close func() error
	)
	if format == exportJSON {
		arr := status.NewJSONArray(w)
		add, close = func(p *queue.Payment) error { return arr.Add(p) }, arr.Close
	} else {
		cw := csv.NewWriter(w)
		cw.Write(exportColumns)
		add = func(p *queue.Payment) error {
			cw.Write(exportRow(p))
			return cw.Error()
		}
		close = func() error { cw.Flush(); return cw.Error() }
	}
	errWrite := errors.New("write")
	var werr error
	err := r.Each(ctx, queue.Filter{Since: since, Oldest: true}, func(p *queue.Payment) error {
		if werr = add(p); werr != nil {
			return errWrite
		}
		return nil
	})
	switch {
	case werr != nil:
		return werr
	case err != nil:
		return fmt.Errorf("cannot read the payments from %s: %w", r.Source(), err)
	}
	return close()
}

// exportRow is one payment as a CSV row in the order of exportColumns.
func exportRow(p *queue.Payment) []string {
	var audit []string
	for _, e := range p.Audit {
		audit = append(audit, auditLine(e))
	}
	return []string{
		p.RequestID, p.PaymentID, strconv.FormatInt(p.Amount, 10), p.Currency, p.Lane, string(p.State),
		csvTime(p.AcceptedAt), csvTime(p.Deadline), csvTime(p.FinishedAt), csvTime(p.DeliveredAt),
		string(p.Result.Status), p.Result.Code, p.Result.Message, p.Result.Time,
		p.CancelReason, strconv.Itoa(p.Inquiries), strconv.Itoa(p.Cancels), p.LastError, p.FollowUp,
		strconv.Itoa(p.AuditDropped), strings.Join(audit, "\n"),
	}
}

// auditLine is one audit event on one line: its time, call and what came of it.
func auditLine(e queue.Event) string {
	return strings.Join(append([]string{csvTime(e.Time), e.Call}, e.Outcome()...), " ")
}

// csvTime writes t as RFC 3339 in UTC, or nothing for the zero time.
func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
