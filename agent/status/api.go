package status

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/posagent/posagent/queue"
)

// healthz answers 200 when the store is open and free of faults and the
// last Alipay call did not need an operator, and 503 with the reasons, one
// a line, otherwise.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	reasons := unhealthy(s.source.Snapshot())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if len(reasons) == 0 {
		fmt.Fprintln(w, "ok")
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	for _, r := range reasons {
		fmt.Fprintln(w, r)
	}
}

// unhealthy lists what makes snap unhealthy; none when it is healthy.
func unhealthy(snap Snapshot) []string {
	var reasons []string
	if !snap.Store.Open {
		msg := "the payment store is not open"
		if snap.Store.Error != "" {
			msg += ": " + snap.Store.Error
		}
		reasons = append(reasons, msg)
	}
	if p := snap.Store.Problem; p != "" {
		reasons = append(reasons, "the payment store takes no new payments: "+p)
	}
	if p := snap.Alipay.OperatorProblem; p != "" {
		reasons = append(reasons, "Alipay needs an operator: "+p)
	}
	return reasons
}

// statusJSON is the body of /api/status.
type statusJSON struct {
	Snapshot
	UptimeSeconds float64  `json:"uptime_seconds"`
	Healthy       bool     `json:"healthy"`
	Problems      []string `json:"problems"`
}

func (s *Server) apiStatus(w http.ResponseWriter, r *http.Request) {
	snap := s.snapshot()
	problems := unhealthy(snap)
	writeJSON(w, http.StatusOK, statusJSON{
		Snapshot:      snap,
		UptimeSeconds: snap.Uptime().Seconds(),
		Healthy:       len(problems) == 0,
		Problems:      append([]string{}, problems...),
	})
}

// apiPayments lists payments as queue.Store.Each does; the query
// parameters are the fields of queue.Filter: state (repeated or
// comma-separated), since (RFC 3339 or a date, YYYY-MM-DD, taken as UTC
// midnight), follow_up=true, limit, oldest=true (earliest accepted first)
// and after (a position, queue.Position.String).
//
// The answer is a JSON array, written as the payments are read, a page of
// the store at a time, each page its own short read transaction: however
// many payments it holds, the agent holds one page of them in memory and
// no read transaction stays open while the client reads. With page=true
// it is one page (queue.Store.PageJSON), and the header Posagent-Next gives
// the after of the next page when there is one; Client reads that way.
func (s *Server) apiPayments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := ParseFilter(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if v := first(q["page"]); v != "" {
		one, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("page %q is not true or false", v))
			return
		}
		if one {
			s.apiPage(w, f)
			return
		}
	}
	var aw *arrayWriter
	err = s.store.Each(f, func(p *queue.Payment) error {
		if err := r.Context().Err(); err != nil {
			return err
		}
		if aw == nil {
			aw = newArrayWriter(w)
		}
		return aw.Add(p)
	})
	switch {
	case err != nil && aw == nil:
		writeError(w, http.StatusInternalServerError, fmt.Errorf("cannot read the payments: %w", err))
	case err != nil:
		// The status line went out with the first payment: cutting the
		// answer short is the one way left to say it failed.
		panic(http.ErrAbortHandler)
	case aw == nil:
		writeJSON(w, http.StatusOK, []queue.Payment{})
	default:
		if err := aw.close(); err != nil {
			panic(http.ErrAbortHandler)
		}
	}
}

// apiPage answers one page of f, the records' JSON as stored, compact:
// the agent neither decodes nor encodes a payment for it unless f
// selects by state or follow-up.
func (s *Server) apiPage(w http.ResponseWriter, f queue.Filter) {
	pg, err := s.store.PageJSON(f)
	if err != nil {
		writeError(w, http.StatusInternalServerError, fmt.Errorf("cannot read the payments: %w", err))
		return
	}
	if !pg.Next.IsZero() {
		w.Header().Set(nextHeader, pg.Next.String())
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteByte('[')
	for i, j := range pg.Records {
		if i > 0 {
			bw.WriteString(",\n")
		}
		bw.Write(j)
	}
	bw.WriteString("]\n")
	bw.Flush()
}

// nextHeader carries the position after which the next page starts.
const nextHeader = "Posagent-Next"

// arrayWriter is the JSON array of a 200 answer, through a buffer.
type arrayWriter struct {
	*JSONArray
	bw *bufio.Writer
}

// newArrayWriter sends the headers of a 200 answer and starts the array.
func newArrayWriter(w http.ResponseWriter) *arrayWriter {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	return &arrayWriter{JSONArray: NewJSONArray(bw), bw: bw}
}

// close ends the array and flushes it.
func (a *arrayWriter) close() error {
	if err := a.Close(); err != nil {
		return err
	}
	return a.bw.Flush()
}

// apiPayment returns one payment, or 404 when there is none by that id.
func (s *Server) apiPayment(w http.ResponseWriter, r *http.Request) {
	p, err := s.store.Get(r.PathValue("req"))
	switch {
	case errors.Is(err, queue.ErrNotFound):
		writeError(w, http.StatusNotFound, err)
	case err != nil:
		writeError(w, http.StatusInternalServerError, fmt.Errorf("cannot read the payment: %w", err))
	default:
		writeJSON(w, http.StatusOK, p)
	}
}

// ParseFilter reads a queue.Filter from URL query values, the form
// /api/payments takes and Client sends.
func ParseFilter(q map[string][]string) (queue.Filter, error) {
	var f queue.Filter
	for _, v := range q["state"] {
		for _, st := range strings.Split(v, ",") {
			state := queue.State(strings.ToUpper(strings.TrimSpace(st)))
			switch state {
			case queue.Pending, queue.Cancelling, queue.Success, queue.Fail, queue.Cancelled:
				f.States = append(f.States, state)
			default:
				return f, fmt.Errorf("state %q is not one of PENDING, CANCELLING, SUCCESS, FAIL, CANCELLED", st)
			}
		}
	}
	if v := first(q["since"]); v != "" {
		t, err := ParseSince(v)
		if err != nil {
			return f, err
		}
		f.Since = t
	}
	if v := first(q["follow_up"]); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return f, fmt.Errorf("follow_up %q is not true or false", v)
		}
		f.FollowUp = b
	}
	if v := first(q["limit"]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return f, fmt.Errorf("limit %q is not a whole number of payments", v)
		}
		f.Limit = n
	}
	if v := first(q["oldest"]); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return f, fmt.Errorf("oldest %q is not true or false", v)
		}
		f.Oldest = b
	}
	if v := first(q["after"]); v != "" {
		pos, err := queue.ParsePosition(v)
		if err != nil {
			return f, err
		}
		f.After = pos
	}
	return f, nil
}

// ParseSince reads a -since value: an RFC 3339 instant, or a date
// (YYYY-MM-DD) meaning midnight UTC at its start.
func ParseSince(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("since %q is neither a date (2026-11-30) nor an RFC 3339 time (2026-11-30T08:00:00Z)", v)
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// errorJSON is the body of every error answer of the JSON API.
type errorJSON struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, errorJSON{Error: err.Error()})
}
