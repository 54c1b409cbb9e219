package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/alipay/alipaytest"
	"github.com/posagent/posagent/queue"
)

// queueConfig writes a configuration whose store holds two payments, one
// final, and returns its path.
func queueConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	srv := alipaytest.NewServer(t)
	if _, _, err := srv.WriteKeyFiles(dir); err != nil {
		t.Fatal(err)
	}
	store, err := queue.Open(filepath.Join(dir, "posagent.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, req := range []string{"pos-1", "pos-2"} {
		if _, _, err := store.Accept(queue.Payment{RequestID: req, Amount: 500, Currency: "USD", Deadline: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Finish("pos-2", queue.Result{Status: queue.Success, PaymentID: "2026", Code: "SUCCESS", Time: now.UTC().Format(time.RFC3339)},
		queue.Event{Call: queue.CallInquiry, ResultStatus: "S", PaymentStatus: "SUCCESS"}); err != nil {
		t.Fatal(err)
	}
	store.Close()
	path := filepath.Join(dir, "posagent.toml")
	doc := fmt.Sprintf("[register]\nport = \"/dev/ttyUSB0\"\n[alipay]\nendpoint = %q\nclient_id = %q\nprivate_key_file = %q\nalipay_public_key_file = %q\n[storage]\npath = \"posagent.db\"\n",
		srv.URL, srv.ClientID, alipaysim.PrivateKeyFile, alipaysim.PublicKeyFile)
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestQueueListAndShow(t *testing.T) {
	config := queueConfig(t)

	r := runArgs(t, "queue", "list", "-config", config)
	if r.code != 0 || !strings.Contains(r.stdout, "pos-1") || !strings.Contains(r.stdout, "PENDING") || !strings.Contains(r.stdout, "SUCCESS") {
		t.Errorf("queue list: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = runArgs(t, "queue", "list", "-config", config, "-json")
	var ps []queue.Payment
	if err := json.Unmarshal([]byte(r.stdout), &ps); err != nil || len(ps) != 2 {
		t.Errorf("queue list -json: %v, %d payments\n%s", err, len(ps), r.stdout)
	}

	r = runArgs(t, "queue", "show", "pos-2", "-config", config)
	if r.code != 0 || !strings.Contains(r.stdout, "audit trail") || !strings.Contains(r.stdout, "INQUIRY") {
		t.Errorf("queue show: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = runArgs(t, "queue", "show", "nobody", "-config", config)
	if r.code != 1 || !strings.Contains(r.stderr, `"nobody"`) {
		t.Errorf("queue show of an unknown payment: %d %q", r.code, r.stderr)
	}

	r = runArgs(t, "queue", "show", "-config", config)
	if r.code != 2 {
		t.Errorf("queue show without a request id exited %d, want 2", r.code)
	}
}

func TestQueueListPages(t *testing.T) {
	config := queueConfig(t) // pos-2 accepted after pos-1

	r := runArgs(t, "queue", "list", "-config", config, "-limit", "1")
	if r.code != 0 || !strings.Contains(r.stdout, "pos-2") || strings.Contains(r.stdout, "pos-1") ||
		!strings.Contains(r.stderr, "posagent queue list -before pos-2") {
		t.Fatalf("queue list -limit 1: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runArgs(t, "queue", "list", "-config", config, "-limit", "1", "-before", "pos-2", "-json")
	var ps []queue.Payment
	if err := json.Unmarshal([]byte(r.stdout), &ps); err != nil || len(ps) != 1 || ps[0].RequestID != "pos-1" || r.stderr != "" {
		t.Fatalf("queue list -before pos-2: %v %v\n%s%s", err, reqIDs(ps), r.stdout, r.stderr)
	}
	r = runArgs(t, "queue", "list", "-config", config, "-before", "pos-1", "-json")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("queue list -before the oldest: %d %q %s", r.code, r.stdout, r.stderr)
	}
	r = runArgs(t, "queue", "list", "-config", config, "-before", "pos-9")
	if r.code != 1 || !strings.Contains(r.stderr, "pos-9") {
		t.Fatalf("queue list -before an unknown payment: %d %q", r.code, r.stderr)
	}
	r = runArgs(t, "queue", "list", "-config", config, "-limit", "-1")
	if r.code != 2 {
		t.Fatalf("queue list -limit -1 exited %d, want 2", r.code)
	}
}

func reqIDs(ps []queue.Payment) []string {
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.RequestID)
	}
	return ids
}
