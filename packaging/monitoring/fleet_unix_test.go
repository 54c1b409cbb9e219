//go:build unix

package monitoring

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posagent/posagent/agent/status"
	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/alipay/alipaytest"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/internal/postest"
	"github.com/posagent/posagent/queue"
)

// PrometheusEnv, set to "required", makes the Prometheus part of
// TestFleetMonitoring fail instead of skipping where no prometheus binary
// is installed; .ci/monitoring sets it after installing Debian's.
const PrometheusEnv = "POSAGENT_PROMETHEUS"

// The store and lane the terminal under test is configured with.
const (
	testStore = "Nanjing Rd 0042"
	testLane  = "3"
)

// terminal is the real posagent binary serving a simulated register on a
// pty and the fake Alipay, with its status endpoint open to other hosts
// (and so demanding the token), as head office scrapes it.
type terminal struct {
	addr      string // the status endpoint, on loopback
	tokenFile string
	client    *status.Client
}

// startTerminal runs the binary with two payments: one Alipay pays, and one
// whose every answer carries a signature that does not verify, which makes
// the agent raise an operator problem after a few answers and leaves
// Alipay unreachable. It also keeps a reconciliation summary with one
// discrepancy, so that every metric the agent has is on /metrics.
func startTerminal(t *testing.T, ctx context.Context) *terminal {
	t.Helper()
	dir := t.TempDir()
	bin := postest.BuildPosagent(t, dir)

	srv := alipaytest.NewServer(t)
	srv.Script("mon-paid", alipaysim.Script{
		Amount: alipay.Amount{Currency: "USD", Value: "1250"},
		Steps:  []alipaysim.Step{alipaysim.Processing(1), alipaysim.Success()},
	})
	srv.Script("mon-forged", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Forged()}})
	priv, pub, err := srv.WriteKeyFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	line := postest.PTY(t)
	port := freePort(t)
	tokenFile := filepath.Join(dir, "status.token")
	postest.WriteFile(t, tokenFile, postest.Token+"\n")
	cfgPath := filepath.Join(dir, "posagent.toml")
	// cancel_after is long: a cancel answered with a valid signature would
	// clear the problem the forged answers raise.
	postest.WriteConfig(t, cfgPath, line.Path, srv, priv, pub, fmt.Sprintf(`timeout = "2s"
[polling]
interval = "1s"
cancel_after = "1h"
[storage]
path = "posagent.db"
[log]
level = "error"
file = "posagent.log"
[status]
listen = "0.0.0.0:%d"
allow_remote = true
token_file = %q
store = %q
lane = %q
`, port, tokenFile, testStore, testLane))

	cmd := exec.Command(bin, "run", "-config", cfgPath)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("posagent run did not stop cleanly on SIGTERM: %v\n%s", err, stderr.String())
		}
		if t.Failed() {
			if log, err := os.ReadFile(filepath.Join(dir, "posagent.log")); err == nil {
				t.Logf("posagent.log:\n%s", log)
			}
		}
	})

	regCtx, stopReg := context.WithCancel(ctx)
	reg := device.NewRegister(device.PortConfig{Path: "pty"}, device.WithOpener(device.OpenOnce(line.Conn())))
	regDone := make(chan struct{})
	go func() { reg.Run(regCtx); close(regDone) }()
	t.Cleanup(func() { stopReg(); <-regDone })
	if _, err := reg.WaitEvent(ctx, func(e device.Event) bool { _, ok := e.(device.HelloDone); return ok }); err != nil {
		t.Fatalf("the register link did not come up: %v\n%s", err, stderr.String())
	}
	for _, req := range []string{"mon-paid", "mon-forged"} {
		if err := reg.Pay(ctx, device.Pay{Req: req, Amount: 1250, Currency: "USD", Lane: testLane}); err != nil {
			t.Fatal(err)
		}
	}

	term := &terminal{
		addr:      fmt.Sprintf("127.0.0.1:%d", port),
		tokenFile: tokenFile,
		client:    status.NewClient(fmt.Sprintf("127.0.0.1:%d", port), postest.Token),
	}
	now := time.Now().UTC()
	day := now.Truncate(24 * time.Hour)
	if err := term.client.PutReconciliation(ctx, queue.Reconciliation{
		Time: now, Files: []string{"transactions.csv"}, From: day.Add(-24 * time.Hour), To: day,
		Rows: 2, Matched: 1, Discrepancies: 1, Counts: map[string]int{"amount_differs": 1},
	}); err != nil {
		t.Fatalf("PUT /api/reconciliation: %v", err)
	}
	// The agent's state across processes has no event to wait on: poll it.
	waitFor(t, ctx, "the paid payment final and the operator problem raised", func() bool {
		s, err := term.client.Status(ctx)
		return err == nil && s.Finished >= 1 && s.Alipay.OperatorProblem != ""
	})
	return term
}

func TestFleetMonitoring(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the posagent binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	term := startTerminal(t, ctx)

	t.Run("queries use only the agent's metrics", func(t *testing.T) {
		have := term.metricNames(t, ctx)
		have["up"] = true // Prometheus's own, for every target
		for _, name := range []string{"posagent_info", "posagent_payments_overdue", "posagent_reconcile_discrepancies", "posagent_alipay_call_duration_seconds_bucket"} {
			if !have[name] {
				t.Errorf("/metrics of the running agent lacks %s", name)
			}
		}
		for _, expr := range dashboardExprs(t) {
			for _, name := range metricNames(expr) {
				if !have[name] {
					t.Errorf("the dashboard queries %s, which the agent does not export: %s", name, expr)
				}
			}
		}
		for alert, expr := range ruleExprs(t, "posagent-alerts.yml") {
			for _, name := range metricNames(expr) {
				if !have[name] {
					t.Errorf("alert %s uses %s, which the agent does not export", alert, name)
				}
			}
		}
	})

	t.Run("Prometheus scrapes the agent and fires alerts", func(t *testing.T) {
		bin, err := exec.LookPath("prometheus")
		if err != nil {
			if os.Getenv(PrometheusEnv) == "required" {
				t.Fatalf("%s=required but there is no prometheus to run: %v", PrometheusEnv, err)
			}
			t.Skip("no prometheus binary (apt-get install prometheus); set " + PrometheusEnv + "=required to make this a failure")
		}
		prom := startPrometheus(t, ctx, bin, term)
		want := []string{"PosagentOperatorProblem", "PosagentReconcileDiscrepancies"}
		var firing map[string]map[string]string
		waitFor(t, ctx, "alerts "+strings.Join(want, ", ")+" firing in Prometheus", func() bool {
			firing = prom.firing(t, ctx)
			for _, name := range want {
				if firing[name] == nil {
					return false
				}
			}
			return true
		})
		for _, name := range want {
			l := firing[name]
			if l["store"] != testStore || l["lane"] != testLane || l["instance"] != term.addr || l["severity"] == "" {
				t.Errorf("alert %s has labels %v, want store %q, lane %q, instance %s and a severity", name, l, testStore, testLane, term.addr)
			}
		}
		// The terminal's register link is up, its clock right, and Alipay
		// answers (with signatures that do not verify): those alerts must
		// not fire.
		for _, name := range []string{"PosagentRegisterLinkDown", "PosagentClockOffset", "PosagentDown", "PosagentAlipayUnreachable"} {
			if firing[name] != nil {
				t.Errorf("alert %s fires for a terminal without that problem: %v", name, firing[name])
			}
		}
		// Every query of the dashboard is valid PromQL to this Prometheus.
		for _, expr := range dashboardExprs(t) {
			prom.query(t, ctx, grafanaVars.Replace(expr))
		}
	})
}

// grafanaVars puts values in place of the dashboard's variables, as Grafana
// does for "All" and its automatic rate interval.
var grafanaVars = strings.NewReplacer("$__rate_interval", "1m", "$store", ".*", "$lane", ".*")

// metricNames scrapes /metrics with the token and returns the names of its
// series (a histogram's _bucket, _sum and _count each).
func (term *terminal) metricNames(t *testing.T, ctx context.Context) map[string]bool {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+term.addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+postest.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// prometheus is a Prometheus server the test runs.
type prometheus struct{ base string }

// forClause matches the for: line of an alerting rule.
var forClause = regexp.MustCompile(`(?m)^(\s+for:\s+)\S+$`)

// startPrometheus runs Prometheus on a loopback port, scraping term every
// second with its token, as docs/monitoring.md's scrape job does, and
// evaluating a copy of the alerting rules every second. The copy waits 2 s
// where a rule says to wait minutes (for:), so that an alert fires within
// the test; the expressions, labels and annotations are the shipped ones.
func startPrometheus(t *testing.T, ctx context.Context, bin string, term *terminal) *prometheus {
	t.Helper()
	dir := t.TempDir()
	rules, err := os.ReadFile("posagent-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	postest.WriteFile(t, filepath.Join(dir, "rules.yml"), forClause.ReplaceAllString(string(rules), "${1}2s"))
	postest.WriteFile(t, filepath.Join(dir, "prometheus.yml"), fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - rules.yml
scrape_configs:
  - job_name: posagent
    authorization:
      credentials_file: %s
    static_configs:
      - targets: [%q]
`, term.tokenFile, term.addr))
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen,
		"--log.level=warn")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &prometheus{base: "http://" + listen}
	t.Cleanup(func() {
		if t.Failed() {
			for _, path := range []string{"/api/v1/targets", "/api/v1/rules"} {
				if resp, err := http.Get(p.base + path); err == nil {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					t.Logf("GET %s:\n%s", path, body)
				}
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus:\n%s", stderr.String())
		}
	})
	waitFor(t, ctx, "Prometheus ready", func() bool {
		resp, err := http.Get(p.base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// api gets path from Prometheus's HTTP API and decodes its data into v.
func (p *prometheus) api(t *testing.T, ctx context.Context, path string, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
		t.Fatalf("GET %s: %s %s (%v)", path, resp.Status, body, err)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// firing returns the labels of every firing alert by name, from
// /api/v1/alerts.
func (p *prometheus) firing(t *testing.T, ctx context.Context) map[string]map[string]string {
	t.Helper()
	var data struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	p.api(t, ctx, "/api/v1/alerts", &data)
	out := map[string]map[string]string{}
	for _, a := range data.Alerts {
		if a.State == "firing" {
			out[a.Labels["alertname"]] = a.Labels
		}
	}
	return out
}

// query evaluates expr now, failing t when Prometheus refuses it.
func (p *prometheus) query(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	var data json.RawMessage
	p.api(t, ctx, "/api/v1/query?query="+url.QueryEscape(expr), &data)
}

// waitFor polls cond every 100 ms until it holds, failing t when ctx ends
// first. It is for state in another process, which sends no event.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// freePort returns a TCP port free on loopback now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
