package status

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/report"
)

// zoneServer is the fixture's server counting days in zone.
func (f *fixture) zoneServer(zone *time.Location) *Server {
	return NewServer(Options{
		Source:   SourceFunc(func() Snapshot { return f.snap }),
		Payments: f.store,
		Zone:     zone,
	})
}

func TestAPIReportTotalsTheDay(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		zone   *time.Location
		target string
		day    string
		count  int
		check  func(t *testing.T, r report.Report)
	}{
		{name: "today", zone: time.UTC, target: "/api/report", day: "2026-11-30", count: 3, check: func(t *testing.T, r report.Report) {
			usd := r.Currencies[0]
			if len(r.Currencies) != 1 || usd.Currency != "USD" || usd.Success != (report.Sum{Count: 1, Amount: 700, Major: "7.00"}) ||
				usd.Open != (report.Sum{Count: 2, Amount: 1750, Major: "17.50"}) || usd.Undelivered.Count != 1 ||
				len(r.Open) != 2 || len(r.Undelivered) != 1 || r.Undelivered[0].RequestID != "pos-undelivered-3" || len(r.FollowUp) != 0 {
				t.Errorf("report %+v", r)
			}
		}},
		{name: "another day", zone: time.UTC, target: "/api/report?day=2026-11-28", day: "2026-11-28", count: 1, check: func(t *testing.T, r report.Report) {
			if usd := r.Currencies[0]; usd.Fail != (report.Sum{Count: 1, Amount: 900, Major: "9.00"}) || len(r.FollowUp) != 1 ||
				r.FollowUp[0].FollowUp != "customer disputes the charge" || len(r.Undelivered) != 0 {
				t.Errorf("report %+v", r)
			}
		}},
		{name: "a day with nothing", zone: time.UTC, target: "/api/report?day=2026-11-29", day: "2026-11-29"},
		// At 09:00 UTC it is midnight in UTC-9: today has nothing yet, and
		// this morning's payments in UTC belong to yesterday there.
		{name: "today in the terminal's zone", zone: time.FixedZone("-09", -9*3600), target: "/api/report", day: "2026-11-30"},
		{name: "yesterday in the terminal's zone", zone: time.FixedZone("-09", -9*3600), target: "/api/report?day=2026-11-29", day: "2026-11-29", count: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, ctype, body := get(t, f.zoneServer(tt.zone), tt.target)
			if code != http.StatusOK || ctype != "application/json" {
				t.Fatalf("code %d, Content-Type %q: %s", code, ctype, body)
			}
			var r report.Report
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				t.Fatal(err)
			}
			if r.Day != tt.day || r.Payments != tt.count {
				t.Errorf("day %s with %d payments; want %s with %d:\n%s", r.Day, r.Payments, tt.day, tt.count, body)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestAPIReportRefusesABadDay(t *testing.T) {
	f := newFixture(t)
	for _, day := range []string{"yesterday", "2026-02-30", "30.11.2026", "2026-11-30T00:00:00Z"} {
		code, _, body := get(t, f.server(), "/api/report?day="+day)
		var e errorJSON
		json.Unmarshal([]byte(body), &e)
		if code != http.StatusBadRequest || !strings.Contains(e.Error, "YYYY-MM-DD") {
			t.Errorf("day=%s: code %d, body %s; want 400 saying how to write a day", day, code, body)
		}
	}
}

func TestAPIReportNeedsTheTokenLikeTheRestOfTheAPI(t *testing.T) {
	f := newFixture(t)
	h := f.tokenServer()
	for _, tt := range []struct {
		auth string
		code int
	}{{"", http.StatusUnauthorized}, {"Bearer wrong", http.StatusUnauthorized}, {"Bearer " + testToken, http.StatusOK}} {
		req := httptest.NewRequest(http.MethodGet, "/api/report?day=2026-11-30", nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.code {
			t.Errorf("Authorization %q: code %d; want %d", tt.auth, rec.Code, tt.code)
		}
	}
}

func TestPageShowsTodaysReport(t *testing.T) {
	f := newFixture(t)
	_, _, body := get(t, f.zoneServer(time.UTC), "/")
	for _, want := range []string{
		`<section id="today">`,
		`Today <span class="muted">2026-11-30</span>`,
		`<span class="badge warn">2 OPEN</span>`,
		`data-currency="USD"`,
		`1 SUCCESS <strong class="num">7.00</strong>`,
		`0 FAIL <span class="num">0.00</span>`,
		`2 open <span class="num">17.50</span>`,
		`<a href="#pending">2 not final yet</a>`,
		`<a href="#undelivered">1 not yet confirmed by the register</a>`,
		"days are counted in UTC",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if today := section(body, "today"); strings.Contains(today, "Follow up") {
		t.Errorf("today's panel shows a follow-up of another day:\n%s", today)
	}

	// The day of the flagged payment.
	f.snap.Taken = t0.Add(-47 * time.Hour)
	_, _, body = get(t, f.zoneServer(time.UTC), "/")
	today := section(body, "today")
	for _, want := range []string{`<span class="badge bad">1 TO FOLLOW UP</span>`, "1 FAIL <span class=\"num\">9.00</span>",
		`<code>pos-delivered-4</code> 9.00 USD FAIL: customer disputes the charge`} {
		if !strings.Contains(today, want) {
			t.Errorf("panel of 2026-11-28 lacks %q:\n%s", want, today)
		}
	}

	// Midnight in UTC-9: nothing yet today.
	f.snap.Taken = t0
	_, _, body = get(t, f.zoneServer(time.FixedZone("-09", -9*3600)), "/")
	if today := section(body, "today"); !strings.Contains(today, "none accepted yet") || strings.Contains(today, "badge") {
		t.Errorf("panel of an empty day:\n%s", today)
	}
}

func TestPageTodayWhenTheStoreIsClosedOrUnreadable(t *testing.T) {
	f := newFixture(t)
	f.snap.Store = Store{Path: "/var/lib/posagent/posagent.db", Error: "another posagent is using it"}
	if _, _, body := get(t, f.server(), "/"); strings.Contains(body, `id="today"`) {
		t.Error("a closed store has a Today panel")
	}
	f.snap.Store = Store{Open: true, Path: f.store.Path()}
	f.store.Close() // the agent thinks it open, but it cannot be read
	code, _, body := get(t, f.server(), "/")
	if today := section(body, "today"); code != 200 || !strings.Contains(today, "UNREADABLE") || !strings.Contains(today, "today&#39;s report cannot be made") {
		t.Errorf("code %d, panel:\n%s", code, today)
	}
}

// section returns the HTML of the page's section with the given id, or "".
func section(page, id string) string {
	start := strings.Index(page, `<section id="`+id+`">`)
	if start < 0 {
		return ""
	}
	end := strings.Index(page[start:], "</section>")
	return page[start : start+end]
}
