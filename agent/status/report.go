package status

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/posagent/posagent/queue"
	"github.com/posagent/posagent/report"
)

// apiReport answers /api/report with the day's report as JSON, the same
// JSON as `posagent report -format json`. The query parameter day
// (YYYY-MM-DD) names the day in the terminal's time zone; without it, the
// day is today, the day of the agent's snapshot.
func (s *Server) apiReport(w http.ResponseWriter, r *http.Request) {
	day := report.DayOf(s.source.Snapshot().Taken, s.zone)
	if v := r.URL.Query().Get("day"); v != "" {
		d, err := report.ParseDay(v, s.zone)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		day = d
	}
	rep, err := s.report(r.Context(), day)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// report makes the report of day from the store.
func (s *Server) report(ctx context.Context, day report.Day) (*report.Report, error) {
	return report.Read(ctx, lister{s.store}, day)
}

// today is the report of the day of the instant now, for the page; when
// the store cannot be read, the error says why.
func (s *Server) today(ctx context.Context, now time.Time) (*report.Report, error) {
	rep, err := s.report(ctx, report.DayOf(now, s.zone))
	if err != nil {
		return nil, fmt.Errorf("today's report cannot be made: %w", err)
	}
	return rep, nil
}

// lister gives Payments the form report.Read reads through, which
// status.Reader has too.
type lister struct{ p Payments }

func (l lister) Each(_ context.Context, f queue.Filter, fn func(*queue.Payment) error) error {
	return l.p.Each(f, fn)
}
