//go:build unix

package agent

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay/alipaytest"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/internal/postest"
)

// BenchmarkStartup measures, on the real binary, the time from starting
// the process to the register holding STATUS ACCEPTED for a new PAY,
// sent as soon as the agent's HELLO exchange completes, on stores of
// POSAGENT_STARTUP_SIZES payments (comma-separated; default "0,100000"),
// after a clean stop (SIGTERM) and after SIGKILL, with a warm page cache
// and a cold one (the page cache is dropped through
// /proc/sys/vm/drop_caches where that can be written; cold figures are
// skipped elsewhere). Every case is started POSAGENT_STARTUP_RUNS times
// (default 3); the figures are the median. POSAGENT_BENCH_BIN runs
// another build of posagent (an older one, for a before-and-after in the
// same session) instead of this tree's. Run it with -benchtime 1x; the
// stores are written by queue's TestWriteBenchStore.
//
// "kill" kills an agent that has finished its integrity check in the
// background (or, for a build without one, that answered a PAY);
// "kill-early" kills one before that check could finish, so that the next
// start checks the file in full.
func BenchmarkStartup(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("restarting an agent killed on the same pty needs root (TIOCEXCL outlives the holder)")
	}
	sizes := []int{0, 100000}
	if v := os.Getenv("POSAGENT_STARTUP_SIZES"); v != "" {
		sizes = nil
		for f := range strings.SplitSeq(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				b.Fatalf("POSAGENT_STARTUP_SIZES: %v", err)
			}
			sizes = append(sizes, n)
		}
	}
	runs := 3
	if v := os.Getenv("POSAGENT_STARTUP_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("POSAGENT_STARTUP_RUNS %q", v)
		}
		runs = n
	}
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
	port := stablePath(b, line.Path) // now, while the name still leads to it
	reg := startRegister(b, line)
	cold := canDropCaches()
	for range b.N {
		for _, size := range sizes {
			db := filepath.Join(dir, fmt.Sprintf("store-%d.db", size))
			if size > 0 {
				writeBenchStore(b, db, size)
				if fi, err := os.Stat(db); err == nil {
					b.ReportMetric(float64(fi.Size())/1e6, fmt.Sprintf("MB-%d", size))
				}
			}
			logFile := filepath.Join(dir, fmt.Sprintf("posagent-%d.log", size))
			config := filepath.Join(dir, fmt.Sprintf("posagent-%d.toml", size))
			postest.WriteConfig(b, config, port, srv, priv, pub, fmt.Sprintf(`[polling]
interval = "1m"
cancel_after = "2h"
[storage]
path = %q
[log]
level = "info"
file = %q
[status]
listen = ""
`, db, logFile))
			s := &startups{b: b, bin: bin, config: config, log: logFile, reg: reg}
			// A first run lays the store out (and checks it in full).
			s.run("prepare", "term", false)
			for _, c := range []struct {
				before string // how the run before the measured one ends
				cold   bool
			}{{"term", false}, {"term", true}, {"kill", false}, {"kill", true}, {"kill-early", false}, {"kill-early", true}} {
				if c.cold && !cold {
					continue
				}
				var took []time.Duration
				for range runs {
					s.run("before", c.before, false)
					took = append(took, s.run("measured", "term", c.cold))
				}
				cache := "warm"
				if c.cold {
					cache = "cold"
				}
				stop := map[string]string{"term": "clean", "kill": "kill", "kill-early": "kill-early"}[c.before]
				b.ReportMetric(ms(percentile(took, 50)), fmt.Sprintf("ms-%d-%s-%s", size, stop, cache))
			}
			if size > 0 {
				os.Remove(db)
			}
		}
	}
}

// startups starts and stops one configuration of the agent.
type startups struct {
	b      *testing.B
	bin    string
	config string
	log    string
	reg    *testRegister
	n      int
}

// run starts the agent, sends a PAY once its HELLO exchange completes and
// waits for ACCEPTED, then ends the process as end says ("term": SIGTERM;
// "kill": SIGKILL once the integrity check in the background has passed,
// or at once for a build that logs no such check; "kill-early": SIGKILL
// at once). It returns the time from the start to ACCEPTED. With cold,
// the page cache is dropped before the start.
func (s *startups) run(what, end string, cold bool) time.Duration {
	b := s.b
	s.n++
	req := fmt.Sprintf("startup-%04d", s.n)
	os.Truncate(s.log, 0)
	if cold {
		dropCaches(b)
	}
	ap := startHelloed(b, s.reg, exec.Command(s.bin, "run", "-config", s.config), s.log, what)
	cmd, exited, start := ap.cmd, ap.exited, ap.started
	st := s.reg.request(device.Pay{Req: req, Amount: 100, Currency: "USD"})
	took := time.Since(start)
	if st.State != device.StateAccepted {
		b.Fatalf("%s: PAY answered %+v", what, st)
	}
	switch end {
	case "term":
		cmd.Process.Signal(syscall.SIGTERM)
	case "kill":
		s.waitChecked(cmd)
		cmd.Process.Kill()
	case "kill-early":
		cmd.Process.Kill()
	}
	<-exited
	return took
}

// waitChecked waits until the agent logs that its store passed the
// integrity check in the background; a build that checks the store before
// it serves logs no such line, and is not waited for. The log file is
// the only sign of it, so it is read again every 50 ms.
func (s *startups) waitChecked(cmd *exec.Cmd) {
	if os.Getenv("POSAGENT_BENCH_BIN") != "" && os.Getenv("POSAGENT_BENCH_BIN_CHECKS") == "" {
		return
	}
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		data, _ := os.ReadFile(s.log)
		if bytes.Contains(data, []byte("passed its integrity check")) {
			return
		}
		time.Sleep(50 * time.Millisecond) // the log file gives no event to wait on
	}
	cmd.Process.Kill()
	s.b.Fatal("the agent did not log that its store passed the integrity check")
}

// writeBenchStore writes a store of n delivered payments at path with
// queue's TestWriteBenchStore, which knows the file's layout.
func writeBenchStore(b *testing.B, path string, n int) {
	b.Helper()
	cmd := exec.Command("go", "test", "-count=1", "-run", "^TestWriteBenchStore$", "github.com/posagent/posagent/queue")
	cmd.Env = append(os.Environ(), "POSAGENT_BENCH_STORE="+path, "POSAGENT_BENCH_STORE_N="+strconv.Itoa(n))
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("write a store of %d payments: %v\n%s", n, err, out)
	}
}

// canDropCaches reports whether the page cache can be dropped here.
func canDropCaches() bool {
	f, err := os.OpenFile("/proc/sys/vm/drop_caches", os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// dropCaches writes the dirty pages out and drops the page cache.
func dropCaches(b *testing.B) {
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
		b.Fatalf("drop the page cache: %v", err)
	}
}

// stablePath returns a path to the terminal side of the pty at path that
// the agent can open for as long as this process holds it open: the
// process's own descriptor under /proc. Call it right after making the
// pty: the name under /dev/pts goes when another devpts is mounted over
// /dev/pts (and the old one detached), as tests elsewhere on a shared
// machine may do while a long benchmark runs.
func stablePath(b *testing.B, path string) string {
	b.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return path
	}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && target == path {
			return fmt.Sprintf("/proc/%d/fd/%s", os.Getpid(), fd.Name())
		}
	}
	return path
}

// agentProcess is the real binary, started by startHelloed.
type agentProcess struct {
	cmd     *exec.Cmd
	started time.Time       // just before the process started
	exited  chan struct{}   // closed once it has ended
	ctx     context.Context // ends when it does, or 5 minutes after its start
}

// startHelloed starts cmd, a "posagent run" that logs to logFile, and waits
// until reg has completed a HELLO exchange with it. what names the run in
// a failure.
func startHelloed(b *testing.B, reg *testRegister, cmd *exec.Cmd, logFile, what string) *agentProcess {
	b.Helper()
	from := reg.Seen()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	b.Cleanup(cancel)
	ap := &agentProcess{cmd: cmd, started: time.Now(), exited: make(chan struct{}), ctx: ctx}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() {
		cmd.Wait()
		close(ap.exited)
		cancel() // an agent that stopped sends no HELLO
	}()
	if _, err := reg.WaitEventFrom(ctx, from, func(ev device.Event) bool { _, ok := ev.(device.HelloDone); return ok }); err != nil {
		cmd.Process.Kill()
		log, _ := os.ReadFile(logFile)
		b.Fatalf("%s: no HELLO from the agent: %v\n%s\n%s", what, err, stderr.Bytes(), log)
	}
	return ap
}
