package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/agent/status"
	"github.com/posagent/posagent/queue"
)

// reconcileHeader is a transaction details report's header, in an order
// of its own.
const reconcileHeader = "transactionType,transactionAmountValue,customerId,transactionRequestId,transactionCurrency,transactionId,originalTransactionId,transactionTime"

// reconcileRig is a store with a few payments of 2026-11-30 (UTC+8), a
// configuration naming it, and report files.
type reconcileRig struct {
	dir, db, config string
}

func newReconcileRig(t *testing.T, listen string) *reconcileRig {
	t.Helper()
	dir := t.TempDir()
	rig := &reconcileRig{dir: dir, db: filepath.Join(dir, "posagent.db"), config: filepath.Join(dir, "posagent.toml")}
	store, err := queue.Open(rig.db, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC) // 10:00 UTC+8
	for _, p := range []struct {
		req   string
		amt   int64
		state queue.State
	}{{"pos-1", 1250, queue.Success}, {"pos-2", 990, queue.Fail}, {"pos-3", 500, queue.Success}} {
		if _, _, err := store.Accept(queue.Payment{RequestID: p.req, Amount: p.amt, Currency: "USD", AcceptedAt: at, Deadline: at.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Finish(p.req, queue.Result{Status: p.state, Time: at.Add(5 * time.Second).Format(time.RFC3339)}, queue.Event{Call: queue.CallInquiry}); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()
	doc := fmt.Sprintf("[register]\nport = \"/dev/ttyUSB0\"\n[alipay]\nclient_id = \"TEST_1\"\nprivate_key_file = \"k.pem\"\nalipay_public_key_file = \"p.pem\"\n[storage]\npath = %q\n[status]\nlisten = %q\n", rig.db, listen)
	if err := os.WriteFile(rig.config, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return rig
}

// report writes a report file of the given transaction lines.
func (rig *reconcileRig) report(t *testing.T, name string, lines ...string) string {
	t.Helper()
	path := filepath.Join(rig.dir, name)
	text := reconcileHeader + "\r\n" + strings.Join(lines, "\r\n") + "\r\n"
	if err := os.WriteFile(path, []byte("\ufeff"+text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The lines of the reports: pos-1 and pos-3 as stored, pos-2 paid although
// it failed here.
const (
	linePos1 = "PAYMENT,12.50,2188,pos-1,USD,P1,,2026-11-30T10:00:05+08:00"
	linePos2 = "PAYMENT,9.90,2188,pos-2,USD,P2,,2026-11-30T10:00:05+08:00"
	linePos3 = "PAYMENT,5.00,2188,pos-3,USD,P3,,2026-11-30T10:00:05+08:00"
)

func TestReconcileAgainstTheStoreFile(t *testing.T) {
	rig := newReconcileRig(t, "")
	agree := rig.report(t, "agree.csv", linePos1, linePos3, "<END>")
	differ := rig.report(t, "differ.csv", linePos1, linePos2, linePos3, "<END>")
	noEnd := rig.report(t, "cut.csv", linePos1, linePos3)
	noColumn := filepath.Join(rig.dir, "nocol.csv")
	os.WriteFile(noColumn, []byte("transactionType,transactionRequestId\nPAYMENT,pos-1\n<END>\n"), 0o600)
	badAmount := rig.report(t, "bad.csv", "PAYMENT,12.5.0,2188,pos-1,USD,P1,,2026-11-30T10:00:05+08:00", "<END>")
	empty := rig.report(t, "empty.csv", "<END>")

	tests := []struct {
		name          string
		args          []string
		code          int
		stdout        string
		stderr        string
		recorded      bool
		discrepancies int
	}{
		{name: "agree", args: []string{agree}, code: exitOK, stdout: "Nothing differs.", recorded: true},
		{name: "differ", args: []string{differ}, code: exitFailure, stdout: "Paid at Alipay, not SUCCESS here (1):", recorded: true, discrepancies: 1},
		{name: "flags after the file", args: []string{differ, "-format", "json"}, code: exitFailure, stdout: `"kind": "paid_not_success"`, recorded: true, discrepancies: 1},
		{name: "csv", args: []string{"-format", "csv", differ}, code: exitFailure, stdout: "paid_not_success,true,pos-2,P2,FAIL,9.90,USD,PAYMENT,9.90,USD", recorded: true, discrepancies: 1},
		{name: "no record", args: []string{"-no-record", differ}, code: exitFailure, stdout: "pos-2"},
		{name: "missing END", args: []string{noEnd}, code: exitUsage, stderr: "cut.csv: does not end with the <END> line"},
		{name: "missing END allowed", args: []string{"-allow-missing-end", noEnd}, code: exitOK, stderr: "may be cut short", stdout: "Nothing differs.", recorded: true},
		{name: "missing column", args: []string{noColumn}, code: exitUsage, stderr: "nocol.csv, line 1: has no transactionId column"},
		{name: "bad amount", args: []string{badAmount}, code: exitUsage, stderr: "bad.csv, line 2: has an amount that does not read"},
		{name: "missing file", args: []string{filepath.Join(rig.dir, "none.csv")}, code: exitUsage, stderr: "none.csv: cannot be opened"},
		{name: "empty report", args: []string{empty}, code: exitUsage, stderr: "give -from and -to"},
		{name: "empty report with a period", args: []string{"-from", "2026-11-30", "-to", "2026-12-01", empty}, code: exitFailure, stdout: "SUCCESS here, not paid at Alipay (2):", recorded: true, discrepancies: 2},
		{name: "bad -from", args: []string{"-from", "yesterday", agree}, code: exitUsage, stderr: `-from "yesterday" is neither a date`},
		{name: "bad format", args: []string{"-format", "xml", agree}, code: exitUsage, stderr: `-format "xml"`},
		{name: "no file", args: nil, code: exitUsage, stderr: "give the report files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := lastReconciliation(t, rig.db)
			r := runArgs(t, append([]string{"reconcile", "-config", rig.config}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stdout, tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant %d with %q on stdout and %q on stderr", r.code, r.stdout, r.stderr, tt.code, tt.stdout, tt.stderr)
			}
			if tt.code == exitUsage && strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 && !strings.Contains(r.stderr, "usage:") {
				t.Errorf("the error is more than one line:\n%s", r.stderr)
			}
			after := lastReconciliation(t, rig.db)
			if recorded := !after.Time.Equal(before.Time); recorded != tt.recorded {
				t.Fatalf("summary recorded %v; want %v", recorded, tt.recorded)
			}
			if tt.recorded && after.Discrepancies != tt.discrepancies {
				t.Errorf("recorded %d discrepancies; want %d (%+v)", after.Discrepancies, tt.discrepancies, after)
			}
		})
	}
}

// lastReconciliation reads the summary kept in the store file at db.
func lastReconciliation(t *testing.T, db string) queue.Reconciliation {
	t.Helper()
	s, err := queue.Open(db, queue.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, _, err := s.LastReconciliation()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReconcileThroughTheRunningAgent(t *testing.T) {
	t.Parallel()
	ln, err := status.Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	rig := newReconcileRig(t, ln.Addr().String())
	store, err := queue.Open(rig.db, queue.Options{}) // held, as by a running agent
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	token := strings.Repeat("ab", 32)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		status.Serve(ctx, ln, status.NewServer(status.Options{
			Source:          status.SourceFunc(func() status.Snapshot { return status.Snapshot{Store: status.Store{Open: true}} }),
			Payments:        store,
			Reconciliations: store,
			WriteToken:      token,
		}))
		close(served)
	}()
	t.Cleanup(func() { cancel(); <-served })
	differ := rig.report(t, "differ.csv", linePos1, linePos2, linePos3, "<END>")

	// Without the token file: the comparison runs, the summary is not kept.
	r := runArgs(t, "reconcile", "-config", rig.config, "-format", "json", differ)
	if r.code != exitFailure || !strings.Contains(r.stdout, `"discrepancies": 1`) || !strings.Contains(r.stderr, "was not kept for the status page") {
		t.Fatalf("without the token: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if _, ok, _ := store.LastReconciliation(); ok {
		t.Fatal("a summary was kept without the token")
	}

	if err := os.WriteFile(filepath.Join(rig.dir, "status.token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runArgs(t, "reconcile", "-config", rig.config, "-format", "json", differ)
	if r.code != exitFailure || r.stderr != "" {
		t.Fatalf("with the token: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var out struct {
		Matched  int
		Findings []struct{ Kind, Req string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Matched != 2 || len(out.Findings) != 1 || out.Findings[0].Req != "pos-2" {
		t.Fatalf("output %s (%v)", r.stdout, err)
	}
	got, ok, err := store.LastReconciliation()
	if err != nil || !ok || got.Discrepancies != 1 || got.Counts["paid_not_success"] != 1 || got.Matched != 2 || len(got.Files) != 1 || got.Files[0] != differ {
		t.Errorf("kept summary %+v, %v, %v", got, ok, err)
	}
}
