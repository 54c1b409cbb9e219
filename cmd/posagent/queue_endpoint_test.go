package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/agent/status"
	"github.com/posagent/posagent/queue"
)

func TestQueueReadsThroughTheRunningAgentWhileItHoldsTheStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "posagent.db")
	store, err := queue.Open(db, queue.Options{}) // held, as by a running agent
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	at := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	if _, _, err := store.Accept(queue.Payment{RequestID: "pos-held-1", Amount: 990, Currency: "EUR", AcceptedAt: at, Deadline: at.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
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
		}))
		close(served)
	}()
	t.Cleanup(func() { cancel(); <-served })

	cfg := filepath.Join(dir, "posagent.toml")
	body := fmt.Sprintf("[register]\nport = \"/dev/ttyUSB0\"\n[alipay]\nclient_id = \"TEST_1\"\nprivate_key_file = \"k.pem\"\nalipay_public_key_file = \"p.pem\"\n[storage]\npath = %q\n[status]\nlisten = %q\n", db, ln.Addr().String())
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"queue", "list", "-config", cfg}, "pos-held-1"},
		{[]string{"queue", "show", "pos-held-1", "-config", cfg}, "990 EUR"},
		{[]string{"queue", "export", "-config", cfg, "-format", "json"}, `"req": "pos-held-1"`},
	}
	for _, tt := range tests {
		r := runArgs(t, tt.args...)
		if r.code != exitOK || !strings.Contains(r.stdout, tt.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 0 with %q", tt.args, r.code, r.stdout, r.stderr, tt.want)
		}
	}
	r := runArgs(t, "queue", "show", "pos-none", "-config", cfg)
	if r.code != exitFailure || !strings.Contains(r.stderr, "running posagent") {
		t.Errorf("show unknown: exit %d, stderr %q; want 1 naming the running posagent", r.code, r.stderr)
	}
}
