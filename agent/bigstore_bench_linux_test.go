package agent

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay/alipaytest"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/internal/postest"
)

// BenchmarkBigStore prints the figures of a large store: `posagent queue
// list` and `queue export` on the file and through a running agent (time
// and peak anonymous memory, RssAnon, of the command), the file's size,
// the agent's memory, and PAY -> ACCEPTED over a pty, idle and while an
// export through the agent runs. It runs only when POSAGENT_BIGSTORE names
// a store file, written by queue's TestWriteBigStore (docs/benchmarks.md);
// the agent adds its payments to that file. Run it with -benchtime 1x.
func BenchmarkBigStore(b *testing.B) {
	store := os.Getenv("POSAGENT_BIGSTORE")
	if store == "" {
		b.Skip("set POSAGENT_BIGSTORE to a store file written by queue's TestWriteBigStore")
	}
	pays := 300
	if v := os.Getenv("POSAGENT_BIGSTORE_PAYS"); v != "" {
		pays, _ = strconv.Atoi(v)
	}
	dir := b.TempDir()
	bin := postest.BuildPosagent(b, dir)
	srv := alipaytest.NewServer(b)
	priv, pub, err := srv.WriteKeyFiles(dir)
	if err != nil {
		b.Fatal(err)
	}
	line := postest.PTY(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	config := filepath.Join(dir, "posagent.toml")
	postest.WriteConfig(b, config, line.Path, srv, priv, pub, fmt.Sprintf(`[polling]
interval = "1s"
cancel_after = "1h"
[storage]
path = %q
[log]
level = "warn"
[status]
listen = %q
`, store, listen))
	fi, err := os.Stat(store)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Printf("store %s: %.1f MiB\n", store, float64(fi.Size())/(1<<20))
	b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")

	for range b.N {
		files := [][]string{{"queue", "list"}, {"queue", "list", "-limit", "0"}, {"queue", "export"}, {"queue", "export", "-format", "json"}}
		if os.Getenv("POSAGENT_BIGSTORE_AGENT_ONLY") != "" {
			files = nil
		}
		for _, args := range files {
			r := runMeasured(b, bin, append(args, "-config", config)...)
			fmt.Printf("file:  %-28s %7.2f s  RssAnon peak %6.1f MiB  %8.1f MiB written\n", strings.Join(args, " "), r.took.Seconds(), r.anonMiB, r.outMiB)
		}

		agent := exec.Command(bin, "run", "-config", config)
		agent.Stderr = os.Stderr
		started := time.Now()
		if err := agent.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
		stopSampling := sampleRss(agent.Process.Pid)
		// The agent serves the register once its store is open, which on
		// a large file takes its full check: wait for its endpoint.
		for deadline := time.Now().Add(10 * time.Minute); ; {
			if resp, err := http.Get("http://" + listen + "/healthz"); err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("the agent did not open its store within 10 minutes")
			}
			time.Sleep(100 * time.Millisecond) // no event to wait on: another process
		}
		fmt.Printf("agent: open (full check) %.1f s, RssAnon peak %.1f MiB\n", time.Since(started).Seconds(), stopSampling())
		stopSampling = sampleRss(agent.Process.Pid)
		reg := startRegister(b, line.Master)
		if st := reg.request(device.Pay{Req: fmt.Sprintf("warm-%d", time.Now().UnixNano()), Amount: 100, Currency: "USD"}); st.State != "ACCEPTED" {
			b.Fatalf("PAY answered %+v", st)
		}
		pay := func(tag string, n int, until <-chan struct{}) []time.Duration {
			var ds []time.Duration
			for i := 0; n < 0 || i < n; i++ {
				if until != nil {
					select {
					case <-until:
						return ds
					default:
					}
				}
				req := fmt.Sprintf("%s-%d-%d", tag, time.Now().UnixNano(), i)
				start := time.Now()
				if st := reg.request(device.Pay{Req: req, Amount: 100, Currency: "USD"}); st.State != "ACCEPTED" {
					b.Fatalf("PAY answered %+v", st)
				}
				ds = append(ds, time.Since(start))
			}
			return ds
		}
		idle := pay("idle", pays, nil)
		fmt.Printf("agent: PAY -> ACCEPTED idle:          p50 %6.2f ms  p99 %6.2f ms  (%d PAYs)\n", ms(percentile(idle, 50)), ms(percentile(idle, 99)), len(idle))
		agentIdle := stopSampling()

		for _, args := range [][]string{{"queue", "list"}, {"queue", "export"}} {
			stop := sampleRss(agent.Process.Pid)
			done := make(chan struct{})
			var during []time.Duration
			var wg sync.WaitGroup
			wg.Go(func() { during = pay("busy", -1, done) })
			r := runMeasured(b, bin, append(args, "-config", config)...)
			close(done)
			wg.Wait()
			agentPeak := stop()
			fmt.Printf("agent: %-28s %7.2f s  RssAnon peak %6.1f MiB  %8.1f MiB written; agent RssAnon peak %6.1f MiB (idle %.1f)\n",
				strings.Join(args, " "), r.took.Seconds(), r.anonMiB, r.outMiB, agentPeak, agentIdle)
			fmt.Printf("agent: PAY -> ACCEPTED during %-12s p50 %6.2f ms  p99 %6.2f ms  (%d PAYs)\n", args[1]+":", ms(percentile(during, 50)), ms(percentile(during, 99)), len(during))
			if args[1] == "export" {
				b.ReportMetric(r.took.Seconds(), "export-agent-s")
				b.ReportMetric(r.anonMiB, "export-agent-anon-MiB")
				b.ReportMetric(ms(percentile(during, 99)), "accepted-export-p99-ms")
			}
		}
		b.ReportMetric(ms(percentile(idle, 99)), "accepted-idle-p99-ms")
		agent.Process.Signal(os.Interrupt)
		agent.Wait()
	}
}

// measured is what runMeasured saw of one command.
type measured struct {
	took    time.Duration
	anonMiB float64 // peak RssAnon, sampled
	outMiB  float64 // its standard output
}

// runMeasured runs bin with args to the end, counting its output and
// sampling its RssAnon; a command that fails fails b.
func runMeasured(b *testing.B, bin string, args ...string) measured {
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop := sampleRss(cmd.Process.Pid)
	n, _ := io.Copy(io.Discard, out)
	err = cmd.Wait()
	took := time.Since(start)
	peak := stop()
	if err != nil {
		b.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return measured{took: took, anonMiB: peak, outMiB: float64(n) / (1 << 20)}
}

// sampleRss samples the RssAnon of process pid every 5 ms until the
// returned function is called, which returns the peak in MiB.
func sampleRss(pid int) func() float64 {
	done := make(chan struct{})
	peak := make(chan float64, 1)
	go func() {
		max := 0.0
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if kb, ok := rssAnon(pid); ok && float64(kb)/1024 > max {
				max = float64(kb) / 1024
			}
			select {
			case <-done:
				peak <- max
				return
			case <-tick.C:
			}
		}
	}()
	return func() float64 { close(done); return <-peak }
}

// rssAnon reads RssAnon, in kB, from /proc/pid/status.
func rssAnon(pid int) (int, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssAnon:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb, err == nil
		}
	}
	return 0, false
}
