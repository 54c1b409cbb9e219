//go:build linux && (amd64 || arm64)

package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/alipay/alipaytest"
	"github.com/posagent/posagent/internal/postest"
	"github.com/posagent/posagent/queue"
)

// soakEnv names the variable that runs TestSoak and says for how long, as a
// Go duration: "2m" in CI, "1h" or more for the figures in
// docs/benchmarks.md.
const soakEnv = "POSAGENT_SOAK"

// The soak test's loose bounds, checked for every sample after the warm-up
// against the highest value seen during it. They catch a leak of one thing
// per payment within a couple of minutes, and stay clear of what a busy
// machine does to a healthy agent.
const (
	soakAnonGrowth      = 16 << 20 // bytes of anonymous memory
	soakGoroutineGrowth = 20
	soakFDGrowth        = 10
)

// TestSoak runs the real binary for as long as POSAGENT_SOAK says, against a
// register on a pty that pays one payment a second and confirms every RESULT
// with DONE, and the fake Alipay on loopback. The payments take turns at
// every outcome of the power cut test's payKind (success, unknown answers
// then success, fail, timeout, register cancel, amount mismatch); every
// other one with unknown answers gets HTTP 500 instead of signed U answers.
//
// It samples the agent's resident memory (VmRSS and RssAnon of
// /proc/PID/status), goroutines and Go heap (from the status endpoint's
// /metrics), open file descriptors (/proc/PID/fd) and the size of the store
// file, prints them as a table, and at the end the least-squares slope of
// each per hour after the warm-up. It fails when anonymous memory,
// goroutines or descriptors grow past loose bounds after the warm-up, when
// a PAY goes unanswered, or when a payment ends other than Alipay's answers
// allow or without the register's DONE.
func TestSoak(t *testing.T) {
	v := os.Getenv(soakEnv)
	if v == "" {
		t.Skipf("the soak test runs the binary for minutes or hours; run it with %s set to how long, e.g. %s=1h go test ./agent -run '^TestSoak$' -v -timeout 2h", soakEnv, soakEnv)
	}
	length, err := time.ParseDuration(v)
	if err != nil || length < time.Minute {
		t.Fatalf("%s=%q: give a duration of at least a minute, like 2m or 1h", soakEnv, v)
	}
	every := min(max(length/60, 2*time.Second), time.Minute)
	warmUp := min(max(length/4, 30*time.Second), 10*time.Minute)

	h, status := newSoakRig(t)
	h.srv.Script("ready", payFail.script())
	cmd := startAgent(t, h.bin, h.config)
	h.reg.waitReady(t, "ready")
	pid := cmd.Process.Pid
	scrape := &metricsClient{url: "http://" + status + "/metrics", http: &http.Client{Timeout: 10 * time.Second}}

	// Pay one payment a second until the soak ends.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var paid atomic.Int64
	var unanswered []string
	payerDone := make(chan struct{})
	go func() {
		defer close(payerDone)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			req := fmt.Sprintf("soak-%06d", i)
			k := payKind(i % int(payKinds))
			sc := k.script()
			if k == payUnknown && i/int(payKinds)%2 == 1 {
				sc = alipaysim.Script{Steps: []alipaysim.Step{alipaysim.HTTP500(2), alipaysim.Success()}}
			}
			h.srv.Script(req, sc)
			// A PAY sent must be answered even when the soak ends meanwhile.
			pctx, cancel := context.WithTimeout(context.Background(), postest.Guard)
			if !h.reg.payOne(pctx, req, k) {
				unanswered = append(unanswered, req)
			}
			cancel()
			paid.Add(1)
		}
	}()

	t.Logf("soak of %v, a sample every %v, warm-up %v; agent pid %d", length, every, warmUp, pid)
	t.Logf("%s", soakHeader)
	var samples []soakSample
	start := time.Now()
	take := func() {
		s, err := sampleAgent(pid, h.db, scrape)
		if err != nil {
			t.Fatalf("sample: %v", err)
		}
		s.at, s.paid = time.Since(start), int(paid.Load())
		samples = append(samples, s)
		t.Logf("%s", s)
	}
	take()
	tick := time.NewTicker(every)
	for i := time.Duration(1); i*every <= length; i++ { // the measured period
		<-tick.C
		take()
	}
	tick.Stop()
	stop()
	<-payerDone
	ran := time.Since(start)

	if len(unanswered) > 0 {
		t.Errorf("%d PAYs were not answered within %v: %v", len(unanswered), postest.Guard, unanswered[:min(len(unanswered), 10)])
	}
	if missing := h.reg.waitResults(); len(missing) > 0 {
		t.Errorf("gave up waiting for the RESULT of %d payments: %v", len(missing), missing[:min(len(missing), 10)])
	}
	// The register's last DONEs may still be on their way: only the
	// agent's metrics tell when it has stored them all.
	if err := scrape.waitOutboxEmpty(postest.Guard); err != nil {
		t.Error(err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("the agent did not stop cleanly on SIGTERM: %v", err)
	}
	ps, err := h.list()
	if err != nil {
		t.Fatal(err)
	}
	h.check(t, "at the end", ps, true)
	checkSoakTruth(t, ps, h.srv.Calls())
	if len(ps) != int(paid.Load())+1 { // and "ready"
		t.Errorf("the store holds %d payments, want the %d paid and ready", len(ps), paid.Load())
	}

	report := soakReport(samples, warmUp)
	for _, line := range report.lines() {
		t.Log(line)
	}
	for _, problem := range report.problems() {
		t.Error(problem)
	}
	fmt.Printf("soak: %v, %d payments, rss slope %+.1f MiB/h (anon %+.1f MiB/h), goroutines slope %+.1f/h, fds slope %+.1f/h, store %+.1f MiB/h (%.1f MiB for %d payments)\n",
		ran.Round(time.Second), paid.Load(), report.slope.rss, report.slope.anon, report.slope.goroutines, report.slope.fds,
		report.slope.store, samples[len(samples)-1].store, samples[len(samples)-1].stored)
}

// newSoakRig returns the rig of TestSoak: the binary, its configuration,
// its store path, the fake Alipay and the paying register, as in the power
// cut test but with the store on an ordinary disk; and the address of the
// agent's status endpoint. The configuration is the default one but for a
// retention of one hour (the shortest allowed), so that a soak of a few
// hours shows the store level off.
func newSoakRig(t *testing.T) (h *powerCutRig, status string) {
	dir := t.TempDir()
	h = &powerCutRig{bin: postest.BuildPosagent(t, dir), db: filepath.Join(dir, "posagent.db")}
	h.srv = alipaytest.NewServer(t)
	priv, pub, err := h.srv.WriteKeyFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	line := postest.PTY(t)
	status = freeAddr(t, "127.0.0.1")
	h.config = filepath.Join(dir, "posagent.toml")
	postest.WriteConfig(t, h.config, line.Path, h.srv, priv, pub, fmt.Sprintf(`[storage]
path = %q
retention = "1h"
[log]
level = "info"
file = %q
[status]
listen = %q
`, h.db, filepath.Join(dir, "posagent.log"), status))
	h.reg = newPayingRegister(t, line.Master)
	return h, status
}

// checkSoakTruth checks that every payment ended as the fake Alipay's record
// of calls allows: FAIL after a verified FAIL answer, CANCELLED after a
// cancel it answered S. (SUCCESS, codes and RESULTs are powerCutRig.check's.)
func checkSoakTruth(t *testing.T, ps []queue.Payment, calls []alipaysim.Call) {
	t.Helper()
	failed, cancelled := map[string]bool{}, map[string]bool{}
	for _, c := range calls {
		switch {
		case c.API == alipay.APIInquiry && strings.HasPrefix(c.Answer, "S FAIL "):
			failed[c.PaymentRequestID] = true
		case c.API == alipay.APICancel && c.Answer == "S":
			cancelled[c.PaymentRequestID] = true
		}
	}
	tally := map[string]int{}
	for _, p := range ps {
		tally[string(p.State)+" "+p.Result.Code]++
		switch {
		case !p.Delivered():
			t.Errorf("%s ended %s and the register's DONE is not stored", p.RequestID, p.State)
		case p.State == queue.Fail && !failed[p.RequestID]:
			t.Errorf("%s is FAIL, and Alipay never answered FAIL for it", p.RequestID)
		case p.State == queue.Cancelled && !cancelled[p.RequestID]:
			t.Errorf("%s is CANCELLED, and Alipay never accepted a cancel of it", p.RequestID)
		}
	}
	t.Logf("results: %v; %d Alipay calls", tally, len(calls))
}

// soakSample is one look at the running agent.
type soakSample struct {
	at         time.Duration // since the soak began
	paid       int           // payments paid so far
	rss, anon  float64       // VmRSS and RssAnon, MiB
	heap       float64       // go_memstats_heap_inuse_bytes, MiB
	goroutines int
	fds        int
	store      float64 // size of the store file, MiB
	stored     int     // payments in the store, from posagent_payments
}

const soakHeader = "  elapsed  paid  rss MiB  anon MiB  heap MiB  goroutines  fds  store MiB  stored"

func (s soakSample) String() string {
	return fmt.Sprintf("%9s %5d %8.1f %9.1f %9.1f %11d %4d %10.2f %7d",
		s.at.Round(time.Second), s.paid, s.rss, s.anon, s.heap, s.goroutines, s.fds, s.store, s.stored)
}

// sampleAgent reads the figures of process pid, its store at db and its
// metrics.
func sampleAgent(pid int, db string, scrape *metricsClient) (soakSample, error) {
	var s soakSample
	proc := fmt.Sprintf("/proc/%d", pid)
	kb, err := procStatus(proc+"/status", "VmRSS", "RssAnon")
	if err != nil {
		return s, err
	}
	s.rss, s.anon = kb["VmRSS"]/1024, kb["RssAnon"]/1024
	fds, err := os.ReadDir(proc + "/fd")
	if err != nil {
		return s, fmt.Errorf("counting the agent's descriptors: %w", err)
	}
	s.fds = len(fds)
	fi, err := os.Stat(db)
	if err != nil {
		return s, err
	}
	s.store = float64(fi.Size()) / (1 << 20)
	m, err := scrape.get()
	if err != nil {
		return s, err
	}
	s.goroutines = int(m["go_goroutines"])
	s.heap = m["go_memstats_heap_inuse_bytes"] / (1 << 20)
	s.stored = int(m["posagent_payments"])
	return s, nil
}

// procStatus returns the named fields, in kB, of a /proc/PID/status file.
func procStatus(path string, names ...string) (map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the agent's memory: %w", err)
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		for _, n := range names {
			if name == n {
				v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
				if err != nil {
					return nil, fmt.Errorf("%s: field %s: %w", path, name, err)
				}
				out[name] = v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("%s has no %s field", path, n)
		}
	}
	return out, nil
}

// metricsClient reads the agent's /metrics.
type metricsClient struct {
	url  string
	http *http.Client
}

// get returns every metric of /metrics by name, the values of the series
// of one name added up.
func (c *metricsClient) get() (map[string]float64, error) {
	resp, err := c.http.Get(c.url)
	if err != nil {
		return nil, fmt.Errorf("reading the agent's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return nil, fmt.Errorf("reading the agent's metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		name, _, _ := strings.Cut(line[:i], "{")
		out[name] += v
	}
	return out, sc.Err()
}

// waitOutboxEmpty waits until the agent has no payment open and no RESULT
// waiting for DONE, for up to limit. It polls: nothing outside the agent's
// process announces the change.
func (c *metricsClient) waitOutboxEmpty(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		m, err := c.get()
		if err == nil && m["posagent_outbox_size"] == 0 && m["posagent_oldest_pending_age_seconds"] == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v the agent still has open payments or RESULTs waiting for DONE (metrics error: %v)", limit, err)
		}
		time.Sleep(100 * time.Millisecond) // polling pace
	}
}

// soakSlopes are least-squares slopes per hour.
type soakSlopes struct {
	rss, anon, heap, goroutines, fds, store float64
}

// soakSummary is what the samples of a soak say.
type soakSummary struct {
	samples []soakSample
	warmUp  time.Duration
	warm    soakSample // the highest value of each figure during the warm-up
	after   []soakSample
	slope   soakSlopes // over the samples after the warm-up
}

func soakReport(samples []soakSample, warmUp time.Duration) soakSummary {
	r := soakSummary{samples: samples, warmUp: warmUp}
	for _, s := range samples {
		if s.at > warmUp {
			r.after = append(r.after, s)
			continue
		}
		r.warm.rss, r.warm.anon = max(r.warm.rss, s.rss), max(r.warm.anon, s.anon)
		r.warm.goroutines, r.warm.fds = max(r.warm.goroutines, s.goroutines), max(r.warm.fds, s.fds)
		r.warm.store = max(r.warm.store, s.store)
	}
	fit := func(y func(soakSample) float64) float64 {
		if len(r.after) < 2 {
			return 0
		}
		return slope(r.after, func(s soakSample) float64 { return s.at.Hours() }, y)
	}
	r.slope = soakSlopes{
		rss:        fit(func(s soakSample) float64 { return s.rss }),
		anon:       fit(func(s soakSample) float64 { return s.anon }),
		heap:       fit(func(s soakSample) float64 { return s.heap }),
		goroutines: fit(func(s soakSample) float64 { return float64(s.goroutines) }),
		fds:        fit(func(s soakSample) float64 { return float64(s.fds) }),
		store:      fit(func(s soakSample) float64 { return s.store }),
	}
	return r
}

// lines are the slopes, as printed at the end of a soak.
func (r soakSummary) lines() []string {
	return []string{
		fmt.Sprintf("least-squares slopes over the %d samples after the %v warm-up:", len(r.after), r.warmUp),
		fmt.Sprintf("  rss         %+8.2f MiB/h", r.slope.rss),
		fmt.Sprintf("  anon        %+8.2f MiB/h", r.slope.anon),
		fmt.Sprintf("  heap        %+8.2f MiB/h", r.slope.heap),
		fmt.Sprintf("  goroutines  %+8.2f /h", r.slope.goroutines),
		fmt.Sprintf("  fds         %+8.2f /h", r.slope.fds),
		fmt.Sprintf("  store       %+8.2f MiB/h", r.slope.store),
	}
}

// problems holds one sentence for each sample after the warm-up that
// breaks a bound. The store's file is mapped into the agent's memory, so
// resident memory may grow by as much as the file does, and no more.
func (r soakSummary) problems() []string {
	var out []string
	if len(r.after) == 0 {
		return []string{"no sample after the warm-up: the soak was too short"}
	}
	mib := float64(soakAnonGrowth) / (1 << 20)
	for _, s := range r.after {
		switch {
		case s.anon > r.warm.anon+mib:
			out = append(out, fmt.Sprintf("at %v anonymous memory is %.1f MiB, more than %.0f MiB over the warm-up's %.1f MiB", s.at.Round(time.Second), s.anon, mib, r.warm.anon))
		case s.rss > r.warm.rss+mib+max(s.store-r.warm.store, 0):
			out = append(out, fmt.Sprintf("at %v resident memory is %.1f MiB, more than %.0f MiB and the store's growth over the warm-up's %.1f MiB", s.at.Round(time.Second), s.rss, mib, r.warm.rss))
		case s.goroutines > r.warm.goroutines+soakGoroutineGrowth:
			out = append(out, fmt.Sprintf("at %v the agent runs %d goroutines, more than %d over the warm-up's %d", s.at.Round(time.Second), s.goroutines, soakGoroutineGrowth, r.warm.goroutines))
		case s.fds > r.warm.fds+soakFDGrowth:
			out = append(out, fmt.Sprintf("at %v the agent holds %d descriptors, more than %d over the warm-up's %d", s.at.Round(time.Second), s.fds, soakFDGrowth, r.warm.fds))
		}
	}
	return out
}

// slope returns the least-squares slope of y over x.
func slope[T any](points []T, x, y func(T) float64) float64 {
	var mx, my float64
	for _, p := range points {
		mx += x(p)
		my += y(p)
	}
	n := float64(len(points))
	mx, my = mx/n, my/n
	var sxy, sxx float64
	for _, p := range points {
		dx := x(p) - mx
		sxy += dx * (y(p) - my)
		sxx += dx * dx
	}
	if sxx == 0 {
		return 0
	}
	return sxy / sxx
}

// TestSoakReport checks the soak's arithmetic on made-up samples: the slope
// of a straight line, and which growth breaks a bound.
func TestSoakReport(t *testing.T) {
	// series returns 11 samples a minute apart, 3 of them in the warm-up,
	// whose figures are those of f at each minute.
	series := func(f func(min int, s *soakSample)) []soakSample {
		var out []soakSample
		for i := range 11 {
			s := soakSample{at: time.Duration(i) * time.Minute, rss: 20, anon: 8, goroutines: 40, fds: 20, store: 1}
			f(i, &s)
			out = append(out, s)
		}
		return out
	}
	tests := []struct {
		name     string
		samples  []soakSample
		problems int
		slope    soakSlopes
	}{
		{"flat", series(func(int, *soakSample) {}), 0, soakSlopes{}},
		{"store grows, and resident memory with it", series(func(m int, s *soakSample) {
			s.store += float64(m)
			s.rss += float64(m)
		}), 0, soakSlopes{rss: 60, store: 60}},
		{"a goroutine a minute", series(func(m int, s *soakSample) { s.goroutines += m }), 0, soakSlopes{goroutines: 60}},
		{"a goroutine a payment", series(func(m int, s *soakSample) { s.goroutines += 60 * m }), 8, soakSlopes{goroutines: 3600}},
		{"a descriptor every 20 s", series(func(m int, s *soakSample) { s.fds += 3 * m }), 5, soakSlopes{fds: 180}},
		{"anonymous memory, 4 MiB a minute", series(func(m int, s *soakSample) {
			s.anon += 4 * float64(m)
			s.rss += 4 * float64(m)
		}), 4, soakSlopes{rss: 240, anon: 240}},
		{"resident memory past the store's growth", series(func(m int, s *soakSample) { s.rss += 4 * float64(m) }), 4, soakSlopes{rss: 240}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := soakReport(tt.samples, 2*time.Minute)
			if len(r.after) != 8 {
				t.Fatalf("%d samples after the warm-up, want 8", len(r.after))
			}
			if got := r.problems(); len(got) != tt.problems {
				t.Errorf("%d problems, want %d: %q", len(got), tt.problems, got)
			}
			near := func(a, b float64) bool { return a-b < 1e-6 && b-a < 1e-6 }
			if g, w := r.slope, tt.slope; !near(g.rss, w.rss) || !near(g.anon, w.anon) || !near(g.goroutines, w.goroutines) || !near(g.fds, w.fds) || !near(g.store, w.store) {
				t.Errorf("slopes %+v, want %+v", g, w)
			}
		})
	}
}
