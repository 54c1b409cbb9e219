package agent

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay/alipaytest"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/internal/postest"
)

// procSample is what Linux has counted for a running process so far.
type procSample struct {
	// ticks is user plus system time from /proc/PID/stat, in clock ticks
	// (1/100 s), threads that ended included.
	ticks int64
	// run is the time the process's threads have been on a CPU, from
	// /proc/PID/task/*/schedstat, in nanoseconds: finer than ticks.
	run time.Duration
	// sleeps is how often its threads gave up the CPU to wait, summed from
	// voluntary_ctxt_switches in /proc/PID/task/*/status: each one is a
	// wake-up later.
	sleeps  int64
	threads int
}

// sampleProc reads the counters of process pid.
func sampleProc(tb testing.TB, pid int) procSample {
	tb.Helper()
	var s procSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// The command name, in parentheses, may hold spaces: count from after it.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14 of proc(5)
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	s.ticks = utime + stime
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, task := range tasks {
		sched, err := os.ReadFile(filepath.Join(task, "schedstat"))
		if err != nil {
			continue // the thread ended meanwhile
		}
		if ns, err := strconv.ParseInt(strings.Fields(string(sched))[0], 10, 64); err == nil {
			s.run += time.Duration(ns)
		}
		status, err := os.ReadFile(filepath.Join(task, "status"))
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(status)) {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				s.sleeps += n
			}
		}
		s.threads++
	}
	return s
}

// burstGap is the quiet time that separates two wake-ups of a process in
// countWakeups: activity closer together than this is one wake-up, such as
// a PING, its ACK and the Go runtime's own threads stirring around them.
const burstGap = 20 * time.Millisecond

// countWakeups counts, until ctx ends, how often process pid woke up after
// at least burstGap of sleep on every thread. It reads every millisecond
// how often each thread has been put on a CPU so far (the second counter
// of /proc/PID/task/TID/schedstat); a process that sleeps does not change
// it. Thread context switches count the Go runtime's own threads as well,
// which wake on every system call; this counts the times the process as
// a whole left its sleep, which is what costs a terminal's CPU its idle
// state.
func countWakeups(ctx context.Context, pid int) int {
	files := map[string]*os.File{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	scan := func() {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
		for _, t := range tasks {
			if files[t] == nil {
				if f, err := os.Open(t); err == nil {
					files[t] = f
				}
			}
		}
	}
	scan()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	buf := make([]byte, 128)
	var last int64 = -1
	var lastChange time.Time
	wakeups := 0
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return wakeups
		case now := <-tick.C:
			if i%100 == 0 {
				scan()
			}
			var total int64
			for _, f := range files {
				n, _ := f.ReadAt(buf, 0)
				if fs := strings.Fields(string(buf[:n])); len(fs) == 3 {
					c, _ := strconv.ParseInt(fs[2], 10, 64)
					total += c
				}
			}
			if last >= 0 && total != last {
				if now.Sub(lastChange) >= burstGap {
					wakeups++
				}
				lastChange = now
			}
			last = total
		}
	}
}

// agentBinary is the real binary with its configuration, on a register
// simulator on a pseudo-terminal and the fake AMS server.
type agentBinary struct {
	bin, config string
	reg         *testRegister
}

// newAgentBinary builds the binary and writes a configuration for it in a
// new folder, with an empty store, the status endpoint on a free loopback
// port (as by default) and log level warn.
func newAgentBinary(b *testing.B, bin string) *agentBinary {
	dir := b.TempDir()
	if bin == "" {
		bin = postest.BuildPosagent(b, dir)
	}
	srv := alipaytest.NewServer(b)
	priv, pub, err := srv.WriteKeyFiles(dir)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	line := postest.PTY(b)
	reg := startRegister(b, line) // answers HELLO and PING like a real register
	config := filepath.Join(dir, "posagent.toml")
	postest.WriteConfig(b, config, line.Path, srv, priv, pub, fmt.Sprintf(`[storage]
path = %q
[log]
level = "warn"
[status]
listen = %q
`, filepath.Join(dir, "posagent.db"), listen))
	return &agentBinary{bin: bin, config: config, reg: reg}
}

// start starts the binary.
func (a *agentBinary) start(b *testing.B) *exec.Cmd {
	cmd := exec.Command(a.bin, "run", "-config", a.config)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return cmd
}

// stop ends cmd with SIGTERM and waits for it.
func stop(b *testing.B, cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		b.Fatalf("agent exit: %v", err)
	}
}

// BenchmarkIdleAgent runs the real binary with nothing to do for 60 s (set
// POSAGENT_IDLE to change) once its HELLO exchange with the register is
// done, and reports, for that idle period, from the kernel's counters in
// /proc: the CPU time it used per minute, how often per second it woke up
// (countWakeups) and how often its threads did (voluntary context switches,
// the Go runtime's included); and, from its accounting at exit (start-up
// included), its CPU time and peak resident memory. Run it with -benchtime
// 1x.
func BenchmarkIdleAgent(b *testing.B) {
	idle := 60 * time.Second
	if v := os.Getenv("POSAGENT_IDLE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		idle = d
	}
	a := newAgentBinary(b, "")
	for range b.N {
		cmd := a.start(b)
		ctx, cancel := context.WithTimeout(context.Background(), postest.Guard)
		_, err := a.reg.WaitEvent(ctx, func(ev device.Event) bool { _, ok := ev.(device.HelloDone); return ok })
		cancel()
		if err != nil {
			b.Fatal("the agent's HELLO never came")
		}
		time.Sleep(2 * time.Second) // start-up settles (the first prune)
		before := sampleProc(b, cmd.Process.Pid)
		count, cancel := context.WithTimeout(context.Background(), idle) // the measured idle period
		wakeups := countWakeups(count, cmd.Process.Pid)
		cancel()
		after := sampleProc(b, cmd.Process.Pid)
		stop(b, cmd)

		perMin := time.Minute.Seconds() / idle.Seconds()
		b.ReportMetric(ms(after.run-before.run)*perMin, "idle-cpu-ms/min")
		b.ReportMetric(float64((after.ticks-before.ticks)*10)*perMin, "idle-stat-cpu-ms/min")
		b.ReportMetric(float64(wakeups)/idle.Seconds(), "wakeups/s")
		b.ReportMetric(float64(after.sleeps-before.sleeps)/idle.Seconds(), "thread-wakeups/s")
		b.ReportMetric(float64(after.threads), "threads")
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		b.ReportMetric(ms(time.Duration(ru.Utime.Nano()+ru.Stime.Nano())), "total-cpu-ms")
		b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MiB")
	}
}

// BenchmarkFirstPay measures, for the real binary on an empty store, the
// time from starting the process to the STATUS ACCEPTED of the register's
// first PAY. The register, already running, sent its HELLO and queued the
// PAY before the agent opened the port, so its HELLO went nowhere: a pty
// nobody has opened is in cooked mode, where the frame's ETX byte is the
// interrupt character and flushes it, as a serial port nobody has open
// drops what arrives. Each round is a new register, store and process.
func BenchmarkFirstPay(b *testing.B) {
	bin := postest.BuildPosagent(b, b.TempDir())
	var took []time.Duration
	for i := range b.N {
		a := newAgentBinary(b, bin)
		req := fmt.Sprintf("first-%d", i)
		ctx, cancel := context.WithTimeout(context.Background(), postest.Guard)
		if err := a.reg.Send(ctx, device.Pay{Req: req, Amount: 100, Currency: "USD"}); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		cmd := a.start(b)
		_, err := a.reg.WaitMessage(ctx, func(m device.Message) bool {
			s, ok := m.(device.Status)
			return ok && s.Req == req && s.State == device.StateAccepted
		})
		took = append(took, time.Since(start))
		cancel()
		if err != nil {
			b.Fatalf("no STATUS ACCEPTED for %s", req)
		}
		stop(b, cmd)
	}
	b.ReportMetric(ms(percentile(took, 50)), "start-to-accepted-p50-ms")
	b.ReportMetric(ms(slices.Max(took)), "start-to-accepted-max-ms")
}
