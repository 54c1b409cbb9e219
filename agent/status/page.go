package status

import (
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/posagent/posagent/queue"
	"github.com/posagent/posagent/report"
)

var (
	//go:embed page.html
	pageHTML string
	//go:embed page.css
	pageCSS []byte
)

// pageData is what page.html shows.
type pageData struct {
	Snapshot
	Refresh       int // seconds
	Pending       []queue.Payment
	Undelivered   []queue.Payment
	PaymentsError string
	Today         *report.Report // the day of the snapshot so far; nil when the store is closed
	TodayError    string
}

// paymentTable is one table of payments on the page.
type paymentTable struct {
	ID, Title, Empty string
	Payments         []queue.Payment
}

// parsePage parses page.html with the functions it uses, which format times
// relative to the snapshot's instant now.
func parsePage(now time.Time) *template.Template {
	funcs := template.FuncMap{
		"age":      func(t time.Time) string { return duration(now.Sub(t)) },
		"until":    func(t time.Time) string { return untilText(t.Sub(now)) },
		"duration": duration,
		"clockOffset": func(seconds float64) string {
			d := time.Duration(seconds * float64(time.Second))
			if d < 0 {
				return duration(-d) + " behind"
			}
			return duration(d) + " ahead"
		},
		"freeSpace": freeSpace,
		"stamp":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"clock":     func(t time.Time) string { return t.UTC().Format("15:04:05") },
		"event":     eventText,
		"rows": func(id, title, empty string, ps []queue.Payment) paymentTable {
			return paymentTable{ID: id, Title: title, Empty: empty, Payments: ps}
		},
	}
	return template.Must(template.New("page").Funcs(funcs).Parse(pageHTML))
}

// page renders the status page. It is rendered on the server, so it works
// with scripts turned off and needs nothing but this binary.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	snap := s.snapshot()
	data := pageData{Snapshot: snap, Refresh: int(s.refresh / time.Second)}
	if snap.Store.Open {
		var err error
		if data.Pending, err = s.store.Unfinished(); err == nil {
			data.Undelivered, err = s.store.Outbox()
		}
		if err != nil {
			data.PaymentsError = err.Error()
		}
		if data.Today, err = s.today(r.Context(), snap.Taken); err != nil {
			data.TodayError = err.Error()
		}
	}
	var b strings.Builder
	if err := parsePage(snap.Taken).Execute(&b, data); err != nil {
		http.Error(w, "cannot render the status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(b.String()))
}

func (s *Server) css(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Write(pageCSS)
}

// duration formats d for a person: "45s", "12m 5s", "3h 20m", "2d 4h".
func duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}

// untilText says when something due after d happens: "in 3s", or "now".
func untilText(d time.Duration) string {
	if d <= 0 {
		return "now"
	}
	return "in " + duration(d)
}

// eventText is one audit event's outcome in a few words.
func eventText(e queue.Event) string {
	return strings.Join(e.Outcome(), " · ")
}

// freeSpace says how much room is left, in the unit that reads best.
func freeSpace(b *uint64) string {
	switch n := *b; {
	case n >= 10<<30:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 10<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	default:
		return fmt.Sprintf("%d KiB", n>>10)
	}
}
