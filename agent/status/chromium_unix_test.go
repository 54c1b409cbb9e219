//go:build unix

package status_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/posagent/posagent/agent"
	"github.com/posagent/posagent/agent/status"
	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/alipay/alipaytest"
	"github.com/posagent/posagent/config"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/internal/postest"
)

// ScreenshotEnv names the folder the status page screenshot is saved in. The
// test runs only when it is set (CI's .ci/chromium-check sets it), since it
// needs a Chromium binary.
const ScreenshotEnv = "POSAGENT_SCREENSHOT_DIR"

// TestStatusPageInChromium runs the real agent (posagent run's Serve) on a
// pty with a simulated register and the fake Alipay, gives it payments that
// stay pending and one whose result the register does not confirm, and
// loads the status page in headless Chromium: the rendered DOM must show
// every one of them, and a screenshot is saved for people to look at.
func TestStatusPageInChromium(t *testing.T) {
	dir := os.Getenv(ScreenshotEnv)
	if dir == "" {
		t.Skip(ScreenshotEnv + " is not set")
	}
	browser := os.Getenv("CHROMIUM")
	if browser == "" {
		browser = "chromium"
	}
	if _, err := exec.LookPath(browser); err != nil {
		t.Fatalf("%s is set but there is no %s to run: %v", ScreenshotEnv, browser, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	srv := alipaytest.NewServer(t)
	pending := []string{"pos-ci-1001", "pos-ci-1002", "pos-ci-1003"}
	for _, req := range pending {
		srv.Script(req, alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Processing(100000)}})
	}
	const undelivered = "pos-ci-0999"
	srv.Script(undelivered, alipaysim.Script{Amount: alipay.Amount{Currency: "USD", Value: "1250"}, Steps: []alipaysim.Step{alipaysim.Processing(1), alipaysim.Success()}})

	tmp := t.TempDir()
	priv, pub, err := srv.WriteKeyFiles(tmp)
	if err != nil {
		t.Fatal(err)
	}
	line := postest.PTY(t)
	addr := freeAddr(t)
	cfgPath := filepath.Join(tmp, "posagent.toml")
	postest.WriteConfig(t, cfgPath, line.Path, srv, priv, pub, fmt.Sprintf(`[polling]
interval = "2s"
cancel_after = "1h"
[storage]
path = "posagent.db"
[status]
listen = %q
`, addr))
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}

	runCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- agent.Serve(runCtx, cfg, zerolog.Nop(), "ci-screenshot") }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})

	reg := device.NewRegister(device.PortConfig{Path: "pty"}, device.WithOpener(device.OpenOnce(line.Conn())))
	regDone := make(chan struct{})
	go func() { reg.Run(runCtx); close(regDone) }()
	t.Cleanup(func() { stop(); <-regDone })
	if _, err := reg.WaitEvent(ctx, func(e device.Event) bool { _, ok := e.(device.HelloDone); return ok }); err != nil {
		t.Fatalf("the link did not come up: %v", err)
	}
	for i, req := range append([]string{undelivered}, pending...) {
		if err := reg.Pay(ctx, device.Pay{Req: req, Amount: int64(1250 + 375*i), Currency: "USD", Lane: "2"}); err != nil {
			t.Fatal(err)
		}
	}
	// The RESULT of the undelivered payment arrives; the register does not
	// answer DONE, so it stays in the outbox.
	if _, err := reg.WaitMessage(ctx, func(m device.Message) bool { r, ok := m.(device.Result); return ok && r.Req == undelivered }); err != nil {
		t.Fatalf("no RESULT for %s: %v", undelivered, err)
	}
	// Every pending payment has been asked about at least once.
	if _, err := srv.WaitCalls(ctx, 2+len(pending)); err != nil {
		t.Fatal(err)
	}
	snap, err := status.NewClient(addr, "").Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Store.Pending != len(pending) || snap.Store.Undelivered != 1 || !snap.Link.Up {
		t.Fatalf("status %+v, want %d pending, 1 undelivered, link up", snap.Store, len(pending))
	}

	url := "http://" + addr + "/"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot, err := filepath.Abs(filepath.Join(dir, "status-page.png"))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(shot)
	chromium(t, ctx, browser, "--screenshot="+shot, "--window-size=1280,1100", url)
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 1000 {
		t.Fatalf("no screenshot at %s (%v)", shot, err)
	}
	dom := chromium(t, ctx, browser, "--dump-dom", url)
	for _, want := range append([]string{`data-req="` + undelivered + `"`, "ci-screenshot", `<span class="badge ok">UP</span>`}, pending...) {
		if !strings.Contains(dom, want) {
			t.Errorf("the page Chromium rendered lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}
	t.Logf("screenshot saved: %s", shot)
}

// chromium runs headless Chromium on its own throwaway profile, with nothing
// fetched but the page, and returns its standard output.
func chromium(t *testing.T, ctx context.Context, browser string, args ...string) string {
	t.Helper()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(),
	}
	cmd := exec.CommandContext(ctx, browser, append(base, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", browser, args, err, stderr.String())
	}
	return string(out)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
