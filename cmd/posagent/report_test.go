package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/agent/status"
	"github.com/posagent/posagent/queue"
	"github.com/posagent/posagent/report"
)

// utc8 is the terminal's time zone in these tests.
var utc8 = time.FixedZone("UTC+8", 8*3600)

// reportStore writes a store at db with payments of 2026-11-30 in zone
// and around its midnights: a USD SUCCESS and a JPY SUCCESS delivered, a
// KWD FAIL flagged, a USD CANCELLED the register has not confirmed, a USD
// payment still open, and one payment each just before and just after the
// day.
func reportStore(t *testing.T, db string, zone *time.Location) *queue.Store {
	t.Helper()
	s, err := queue.Open(db, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	local := func(day, h, m, sec int) time.Time { return time.Date(2026, 11, 30+day, h, m, sec, 0, zone) }
	for _, p := range []struct {
		req       string
		amt       int64
		cur       string
		at        time.Time
		st        queue.State
		delivered bool
		flag      string
	}{
		{"pos-eve", 111, "USD", local(-1, 23, 59, 59), queue.Success, true, ""},
		{"pos-1", 1250, "USD", local(0, 0, 0, 0), queue.Success, true, ""},
		{"pos-2", 1500, "JPY", local(0, 9, 15, 0), queue.Success, true, ""},
		{"pos-3", 2500, "KWD", local(0, 12, 0, 0), queue.Fail, true, "Alipay has no record of this payment"},
		{"pos-4", 700, "USD", local(0, 18, 30, 0), queue.Cancelled, false, ""},
		{"pos-5", 990, "USD", local(0, 23, 59, 59), queue.Pending, false, ""},
		{"pos-next", 222, "USD", local(1, 0, 0, 0), queue.Success, true, ""},
	} {
		if _, _, err := s.Accept(queue.Payment{RequestID: p.req, Amount: p.amt, Currency: p.cur, Lane: "1", AcceptedAt: p.at, Deadline: p.at.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if p.st.Final() {
			if _, err := s.Finish(p.req, queue.Result{Status: p.st, Time: p.at.Add(5 * time.Second).Format(time.RFC3339)}, queue.Event{Call: queue.CallInquiry}); err != nil {
				t.Fatal(err)
			}
		}
		if p.delivered {
			if err := s.Deliver(p.req, p.at.Add(6*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		if p.flag != "" {
			if err := s.Flag(p.req, p.flag); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

// reportConfig writes a configuration naming the store db and the status
// listener listen.
func reportConfig(t *testing.T, dir, db, listen string) string {
	t.Helper()
	cfg := filepath.Join(dir, "posagent.toml")
	body := fmt.Sprintf("[register]\nport = \"/dev/ttyUSB0\"\n[alipay]\nclient_id = \"TEST_1\"\nprivate_key_file = \"k.pem\"\nalipay_public_key_file = \"p.pem\"\n[storage]\npath = %q\n[status]\nlisten = %q\n", db, listen)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runReportAt runs posagent report at now in zone.
func runReportAt(t *testing.T, now time.Time, zone *time.Location, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := reportAt(context.Background(), args, &stdout, &stderr, now, zone)
	return result{code, stdout.String(), stderr.String()}
}

func TestReportFromTheStoreFile(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "posagent.db")
	reportStore(t, db, utc8).Close()
	cfg := reportConfig(t, dir, db, "")
	evening := time.Date(2026, 11, 30, 21, 0, 0, 0, utc8)

	tests := []struct {
		name   string
		now    time.Time
		args   []string
		code   int
		stdout []string
		not    []string
		stderr string
	}{
		{name: "today", now: evening, code: exitOK, stdout: []string{
			"Day report 2026-11-30 (UTC+8, 2026-11-30 00:00 to 2026-12-01 00:00)",
			"Payments accepted: 5",
			"  SUCCESS             1             1500", // JPY
			"  FAIL                1            2.500", // KWD
			"  SUCCESS             1            12.50", // USD
			"  CANCELLED           1             7.00",
			"  still open          1             9.90",
			"  23:59:59  pos-5  9.90 USD  PENDING",
			"  12:00:00  pos-3  2.500 KWD  FAIL  lane 1",
			"why: Alipay has no record of this payment",
			"  18:30:00  pos-4  7.00 USD  CANCELLED",
		}, not: []string{"pos-eve", "pos-next"}},
		{name: "just after midnight, today is the next day", now: time.Date(2026, 12, 1, 0, 0, 1, 0, utc8), code: exitOK,
			stdout: []string{"Day report 2026-12-01", "Payments accepted: 1", "  SUCCESS             1             2.22"}},
		{name: "the day before", now: evening, args: []string{"-day", "2026-11-29"}, code: exitOK,
			stdout: []string{"Day report 2026-11-29", "Payments accepted: 1", "  SUCCESS             1             1.11"}, not: []string{"pos-1"}},
		{name: "a day with nothing", now: evening, args: []string{"-day", "2026-11-01"}, code: exitOK,
			stdout: []string{"No payment was accepted on 2026-11-01."}},
		{name: "csv", now: evening, args: []string{"-format", "csv"}, code: exitOK,
			stdout: []string{"day,currency,status,count,amount_minor,amount\n", "2026-11-30,KWD,FOLLOW_UP,1,2500,2.500\n", "2026-11-30,USD,UNDELIVERED,1,700,7.00\n"}},
		{name: "bad day", now: evening, args: []string{"-day", "yesterday"}, code: exitUsage, stderr: `posagent report: -day "yesterday" is not a date written YYYY-MM-DD`},
		{name: "impossible day", now: evening, args: []string{"-day", "2026-02-30"}, code: exitUsage, stderr: "YYYY-MM-DD"},
		{name: "bad format", now: evening, args: []string{"-format", "xml"}, code: exitUsage, stderr: `-format "xml" is not table, csv or json`},
		{name: "an argument", now: evening, args: []string{"2026-11-30"}, code: exitUsage, stderr: `unexpected argument "2026-11-30"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runReportAt(t, tt.now, utc8, append([]string{"-config", cfg}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d with %q", r.code, r.stderr, tt.code, tt.stderr)
			}
			if tt.code == exitUsage && r.stdout != "" {
				t.Errorf("stdout %q on a usage error; want nothing", r.stdout)
			}
			for _, want := range tt.stdout {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
				}
			}
			for _, not := range tt.not {
				if strings.Contains(r.stdout, not) {
					t.Errorf("stdout has %q:\n%s", not, r.stdout)
				}
			}
		})
	}

	r := runReportAt(t, evening, utc8, "-config", cfg, "-format", "json")
	var rep report.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != exitOK {
		t.Fatalf("json: exit %d, %v:\n%s", r.code, err, r.stdout)
	}
	if rep.Day != "2026-11-30" || rep.Payments != 5 || len(rep.Currencies) != 3 || rep.Currencies[1].Fail != (report.Sum{Count: 1, Amount: 2500, Major: "2.500"}) ||
		len(rep.Open) != 1 || len(rep.FollowUp) != 1 || len(rep.Undelivered) != 1 || rep.Undelivered[0].RequestID != "pos-4" {
		t.Errorf("json report %+v", rep)
	}
}

func TestReportRefusesWhatItCannotRead(t *testing.T) {
	dir := t.TempDir()
	if r := runArgs(t, "report", "-config", filepath.Join(dir, "none.toml")); r.code != exitUsage || r.stdout != "" {
		t.Errorf("missing config: exit %d, stdout %q; want %d", r.code, r.stdout, exitUsage)
	}
	cfg := reportConfig(t, dir, filepath.Join(dir, "no", "such", "posagent.db"), "")
	if r := runArgs(t, "report", "-config", cfg); r.code != exitFailure || !strings.HasPrefix(r.stderr, "posagent report: ") || r.stdout != "" {
		t.Errorf("missing store: exit %d, stdout %q, stderr %q; want %d", r.code, r.stdout, r.stderr, exitFailure)
	}
}

// TestReportInTheLocalZone runs the command as the binary does, in the
// machine's own zone: payments at local noon belong to that day there.
func TestReportInTheLocalZone(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "posagent.db")
	reportStore(t, db, time.Local).Close()
	cfg := reportConfig(t, dir, db, "")
	r := runArgs(t, "report", "-config", cfg, "-day", "2026-11-30", "-format", "csv")
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if r.code != exitOK || err != nil || len(rows) != 1+3*6 {
		t.Fatalf("exit %d, %v, stderr %q:\n%s", r.code, err, r.stderr, r.stdout)
	}
	before := time.Now().Format(time.DateOnly)
	r = runArgs(t, "report", "-config", cfg)
	after := time.Now().Format(time.DateOnly) // midnight may pass meanwhile
	if r.code != exitOK || !strings.Contains(r.stdout, "Day report "+before) && !strings.Contains(r.stdout, "Day report "+after) {
		t.Errorf("today (%s): exit %d:\n%s", before, r.code, r.stdout)
	}
}

func TestReportThroughTheRunningAgent(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "posagent.db")
	store := reportStore(t, db, utc8) // held, as by a running agent
	t.Cleanup(func() { store.Close() })
	ln, err := status.Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		status.Serve(ctx, ln, status.NewServer(status.Options{
			Source:   status.SourceFunc(func() status.Snapshot { return status.Snapshot{Store: status.Store{Open: true}} }),
			Payments: store,
			Zone:     utc8,
		}))
		close(served)
	}()
	t.Cleanup(func() { cancel(); <-served })
	cfg := reportConfig(t, dir, db, ln.Addr().String())
	evening := time.Date(2026, 11, 30, 21, 0, 0, 0, utc8)

	r := runReportAt(t, evening, utc8, "-config", cfg)
	for _, want := range []string{"Day report 2026-11-30", "Payments accepted: 5", "pos-5", "why: Alipay has no record of this payment"} {
		if r.code != exitOK || !strings.Contains(r.stdout, want) {
			t.Errorf("exit %d, stderr %q; stdout lacks %q:\n%s", r.code, r.stderr, want, r.stdout)
		}
	}

	// The command and /api/report tell the same day the same way.
	fromFile := runReportAt(t, evening, utc8, "-config", cfg, "-format", "json")
	resp, err := http.Get("http://" + ln.Addr().String() + "/api/report?day=2026-11-30")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var fromAPI report.Report
	if err := json.NewDecoder(resp.Body).Decode(&fromAPI); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/api/report: %s, %v", resp.Status, err)
	}
	var fromCmd report.Report
	if err := json.Unmarshal([]byte(fromFile.stdout), &fromCmd); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(fromAPI)
	b, _ := json.Marshal(fromCmd)
	if !bytes.Equal(a, b) {
		t.Errorf("/api/report and the command differ:\n%s\n%s", a, b)
	}
}
