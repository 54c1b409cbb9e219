package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/queue"
)

func TestQueueExportWritesCSVAndRefusesBadFlags(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "posagent.db")
	s, err := queue.Open(db, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	if _, _, err := s.Accept(queue.Payment{RequestID: "pos-7", Amount: 500, Currency: "USD", AcceptedAt: at, Deadline: at.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	cfg := filepath.Join(dir, "posagent.toml")
	body := fmt.Sprintf("[register]\nport = \"/dev/ttyUSB0\"\n[alipay]\nclient_id = \"TEST_1\"\nprivate_key_file = \"k.pem\"\nalipay_public_key_file = \"p.pem\"\n[storage]\npath = %q\n[status]\nlisten = \"\"\n", db)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}

	r := runArgs(t, "queue", "export", "-config", cfg, "-since", "2026-11-30")
	if r.code != exitOK {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][0] != "pos-7" {
		t.Errorf("rows %q (%v), want the header and pos-7", rows, err)
	}
	if r := runArgs(t, "queue", "export", "-config", cfg, "-since", "2026-12-01"); r.code != exitOK || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("export since a later day: exit %d, stdout %q; want the header only", r.code, r.stdout)
	}
	for _, args := range [][]string{
		{"queue", "export", "-config", cfg, "-format", "xml"},
		{"queue", "export", "-config", cfg, "-since", "yesterday"},
	} {
		if r := runArgs(t, args...); r.code != exitUsage || r.stdout != "" {
			t.Errorf("%q: exit %d, stdout %q; want %d and nothing", args, r.code, r.stdout, exitUsage)
		}
	}
}

func TestDoctorExitsWithUsageOnAConfigThatDoesNotLoad(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(bad, []byte("[register]\nbaud = 12345\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"missing": filepath.Join(t.TempDir(), "none.toml"),
		"invalid": bad,
	} {
		r := runArgs(t, "doctor", "-config", path)
		if r.code != exitUsage || !strings.HasPrefix(r.stdout, "FAIL  config") || !strings.Contains(r.stderr, "configuration does not load") {
			t.Errorf("%s config: exit %d, stdout %q, stderr %q; want %d with a config FAIL", name, r.code, r.stdout, r.stderr, exitUsage)
		}
	}
}
