//go:build unix

package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/config"
	"github.com/posagent/posagent/internal/postest"
)

func TestServeRunsFromConfigWithStatusPage(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	dir := t.TempDir()
	priv, pub, err := r.srv.WriteKeyFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	path := filepath.Join(dir, "posagent.toml")
	postest.WriteConfig(t, path, r.slave, r.srv, priv, pub, fmt.Sprintf(`[storage]
path = "posagent.db"
[status]
listen = %q
`, addr))
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	r.srv.Script("pos-1", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, zerolog.Nop(), "test") }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(postest.Guard):
			t.Error("Serve did not return after its context ended")
		}
		if _, err := os.Stat(filepath.Join(dir, "posagent.db")); err != nil {
			t.Errorf("store not made next to the config: %v", err)
		}
	}()
	if st := r.pay("pos-1", 100, 0); st.State != "ACCEPTED" {
		t.Fatalf("PAY answered %+v", st)
	}
	if res := r.reg.result("pos-1"); res.Status != "SUCCESS" {
		t.Fatalf("RESULT %+v", res)
	}
	resp, err := http.Get("http://" + addr + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var snap struct {
		Version string `json:"version"`
		Link    struct {
			Up     bool   `json:"up"`
			Device string `json:"device"`
		} `json:"link"`
		Alipay struct {
			Reachable bool `json:"reachable"`
		} `json:"alipay"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatal(err)
	}
	if snap.Version != "test" || !snap.Link.Up || !snap.Alipay.Reachable {
		t.Errorf("status %+v, want version test, link up, Alipay reachable", snap)
	}
	if want, _ := filepath.EvalSymlinks(r.slave); snap.Link.Device != want {
		t.Errorf("status shows the register on device %q, want %q", snap.Link.Device, want)
	}
}
