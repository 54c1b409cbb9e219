package agent

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/alipay/alipaytest"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/internal/postest"
)

// BenchmarkSyncs counts, with strace, the fdatasync and fsync calls the
// real binary makes per payment, for payments that Alipay answers
// PROCESSING 2, 20 and 60 times and then SUCCESS, each confirmed by the
// register's DONE. polling.interval is 1 s, the shortest a configuration
// allows, so these payments take 2, 20 and 60 s, as in a store. Each run
// starts the binary on a new store under strace, takes 3 payments of one
// kind, waits for their RESULTs and for a QUERY sent after the DONEs, and
// stops it with SIGTERM; a run that takes no payment is the baseline
// subtracted. A bbolt commit is two fdatasync calls (its pages, then its
// meta page). POSAGENT_SYNCS_SECONDS lists other times (e.g. "2,5"). Run it
// with -benchtime 1x; it takes about 90 s.
func BenchmarkSyncs(b *testing.B) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		b.Skip("strace is not installed")
	}
	const perRun = 3
	dir := b.TempDir()
	bin := os.Getenv("POSAGENT_BENCH_BIN")
	if bin == "" {
		bin = postest.BuildPosagent(b, dir)
	}
	srv := alipaytest.NewServer(b)
	priv, pub, err := srv.WriteKeyFiles(dir)
	if err != nil {
		b.Fatal(err)
	}
	line := postest.PTY(b)
	reg := startRegister(b, line)
	s := &syncRuns{b: b, strace: strace, bin: bin, dir: dir, reg: reg, port: stablePath(b, line.Path), srv: srv, priv: priv, pub: pub}
	seconds := []int{2, 20, 60}
	if v := os.Getenv("POSAGENT_SYNCS_SECONDS"); v != "" {
		seconds = nil
		for f := range strings.SplitSeq(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 0 {
				b.Fatalf("POSAGENT_SYNCS_SECONDS: %q is not a number of seconds", f)
			}
			seconds = append(seconds, n)
		}
	}
	for range b.N {
		base := s.run(0, 0)
		b.ReportMetric(float64(base), "syncs-baseline")
		for _, polls := range seconds {
			n := s.run(polls, perRun)
			b.ReportMetric(float64(n-base)/perRun, fmt.Sprintf("syncs/pay-%ds", polls))
		}
	}
}

// syncRuns runs the binary under strace on a new store each time.
type syncRuns struct {
	b           *testing.B
	strace, bin string
	dir, port   string
	reg         *testRegister
	srv         *alipaysim.Server
	priv, pub   string
	runs        int
}

// run starts the binary, has it take n payments that Alipay answers
// PROCESSING polls times, and returns the sync calls it made from its
// start to its end.
func (s *syncRuns) run(polls, n int) int {
	b := s.b
	s.runs++
	db := filepath.Join(s.dir, fmt.Sprintf("syncs-%d.db", s.runs))
	logFile := filepath.Join(s.dir, fmt.Sprintf("syncs-%d.log", s.runs))
	config := filepath.Join(s.dir, fmt.Sprintf("syncs-%d.toml", s.runs))
	trace := filepath.Join(s.dir, fmt.Sprintf("syncs-%d.strace", s.runs))
	postest.WriteConfig(b, config, s.port, s.srv, s.priv, s.pub, fmt.Sprintf(`[polling]
interval = "1s"
cancel_after = "10m"
[storage]
path = %q
[log]
file = %q
[status]
listen = ""
`, db, logFile))
	ap := startHelloed(b, s.reg, exec.Command(s.strace, "-f", "-qq", "-e", "trace=fdatasync,fsync", "-o", trace, s.bin, "run", "-config", config),
		logFile, "syncs")
	cmd, exited, ctx := ap.cmd, ap.exited, ap.ctx
	var reqs []string
	for i := range n {
		req := fmt.Sprintf("syncs-%d-%d-%d", s.runs, polls, i)
		s.srv.Script(req, alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Processing(polls), alipaysim.Success()}})
		if st := s.reg.request(device.Pay{Req: req, Amount: 100, Currency: "USD"}); st.State != device.StateAccepted {
			b.Fatalf("PAY answered %+v", st)
		}
		reqs = append(reqs, req)
	}
	left := map[string]bool{}
	for _, req := range reqs {
		left[req] = true
	}
	if len(left) > 0 {
		if _, err := s.reg.WaitMessage(ctx, func(m device.Message) bool {
			if r, ok := m.(device.Result); ok {
				delete(left, r.Req)
			}
			return len(left) == 0
		}); err != nil {
			b.Fatalf("RESULTs missing for %v: %v", left, err)
		}
	}
	// A QUERY sent after the DONEs is answered after they were committed.
	s.reg.request(device.Query{Req: fmt.Sprintf("syncs-%d-query", s.runs)})
	// strace's child is the agent: it gets the SIGTERM, and strace ends
	// with it.
	children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
	pid, perr := strconv.Atoi(strings.TrimSpace(string(children)))
	if err != nil || perr != nil {
		cmd.Process.Kill()
		b.Fatalf("cannot find the agent under strace (%q, %v)", children, err)
	}
	syscall.Kill(pid, syscall.SIGTERM)
	<-exited
	out, err := os.ReadFile(trace)
	if err != nil {
		b.Fatal(err)
	}
	syncs := 0
	for l := range strings.Lines(string(out)) {
		if (strings.Contains(l, "fdatasync(") || strings.Contains(l, "fsync(")) && !strings.Contains(l, "resumed>") {
			syncs++
		}
	}
	return syncs
}
