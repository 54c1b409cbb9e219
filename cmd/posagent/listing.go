package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/posagent/posagent/agent/status"
	"github.com/posagent/posagent/queue"
)

// lister writes payments for `posagent queue list` as they are read: a
// header and one line each, or a JSON array when asJSON.
type lister struct {
	asJSON bool
	tw     *tabwriter.Writer
	arr    *status.JSONArray
	rows   int
}

// listFlush is how many lines share their column widths: the table is
// flushed after each such run, so a long listing is never held whole.
const listFlush = 1000

func newLister(w io.Writer, asJSON bool) *lister {
	if asJSON {
		return &lister{asJSON: true, arr: status.NewJSONArray(w)}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REQ\tSTATE\tAMOUNT\tACCEPTED\tCALLS\tCODE\tDELIVERED\tFOLLOW-UP")
	return &lister{tw: tw}
}

// add writes p.
func (l *lister) add(p *queue.Payment) error {
	if l.asJSON {
		return l.arr.Add(p)
	}
	delivered := "-"
	if p.Delivered() {
		delivered = p.DeliveredAt.Format(time.RFC3339)
	} else if p.State.Final() {
		delivered = "waiting"
	}
	fmt.Fprintf(l.tw, "%s\t%s\t%d %s\t%s\t%d\t%s\t%s\t%s\n",
		p.RequestID, p.State, p.Amount, p.Currency, p.AcceptedAt.Format(time.RFC3339),
		p.Inquiries+p.Cancels, orDash(p.Result.Code), delivered, orDash(p.FollowUp))
	if l.rows++; l.rows%listFlush == 0 {
		return l.tw.Flush()
	}
	return nil
}

// close ends the listing.
func (l *lister) close() error {
	if l.asJSON {
		return l.arr.Close()
	}
	return l.tw.Flush()
}

// writePayment writes p to w for `posagent queue show`: its fields, then its
// audit trail oldest first, or the whole record as JSON when asJSON.
func writePayment(w io.Writer, p queue.Payment, asJSON bool) error {
	if asJSON {
		return writeJSON(w, p)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("req", p.RequestID)
	row("pid", orDash(p.AlipayID()))
	row("amount", fmt.Sprintf("%d %s", p.Amount, p.Currency))
	row("lane", orDash(p.Lane))
	row("state", string(p.State))
	row("accepted", p.AcceptedAt.Format(time.RFC3339))
	row("deadline", p.Deadline.Format(time.RFC3339))
	if !p.State.Final() {
		row("next action", p.NextAt.Format(time.RFC3339))
	}
	if p.CancelReason != "" {
		row("cancel reason", p.CancelReason)
	}
	if p.State.Final() {
		row("result", fmt.Sprintf("%s %s %q at %s", p.Result.Status, orDash(p.Result.Code), p.Result.Message, p.Result.Time))
		row("delivered", timeOrDash(p.DeliveredAt))
	}
	row("calls", fmt.Sprintf("%d inquiries, %d cancels", p.Inquiries, p.Cancels))
	row("last error", orDash(p.LastError))
	row("follow-up", orDash(p.FollowUp))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\naudit trail:")
	if p.AuditDropped > 0 {
		fmt.Fprintf(w, "  (%d older events dropped)\n", p.AuditDropped)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, e := range p.Audit {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339Nano), e.Call,
			e.ResultStatus, e.Code, e.PaymentStatus, joinNonEmpty(e.Note, e.Error))
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
