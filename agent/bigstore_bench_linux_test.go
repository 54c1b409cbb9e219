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

	bolt "go.etcd.io/bbolt"

	"github.com/posagent/posagent/alipay/alipaytest"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/internal/postest"
)

// BenchmarkBigStore reports the figures of a large store: the file's size
// and page fill, `posagent queue list` and `queue export` on the file and
// through a running agent (time, peak anonymous memory, RssAnon, and
// output of the command), the agent's time to serve and to pass its full
// check in the background, its memory, and PAY -> ACCEPTED over a pty,
// idle (once the check passed) and while a list or an export through the
// agent runs, with the ratio of each p99 to the idle one. It runs only
// when POSAGENT_BIGSTORE names a store file, written by queue's
// TestWriteBigStore (docs/benchmarks.md); the agent adds its payments to
// that file. Run it with -benchtime 1x.
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
	logFile := filepath.Join(dir, "posagent.log")
	postest.WriteConfig(b, config, line.Path, srv, priv, pub, fmt.Sprintf(`[polling]
interval = "1s"
cancel_after = "1h"
[storage]
path = %q
[log]
level = "info"
file = %q
[status]
listen = %q
`, store, logFile, listen))
	fi, err := os.Stat(store)
	if err != nil {
		b.Fatal(err)
	}
	fill, err := pageFill(store)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("store %s: %.1f MiB, pages %.0f %% used", store, float64(fi.Size())/(1<<20), fill)
	b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
	b.ReportMetric(fill, "page-fill-%")

	for range b.N {
		files := []struct {
			key  string // the metrics' prefix
			args []string
		}{
			{"file-list", []string{"queue", "list"}},
			{"file-list-all", []string{"queue", "list", "-limit", "0"}},
			{"file-export", []string{"queue", "export"}},
			{"file-export-json", []string{"queue", "export", "-format", "json"}},
		}
		if os.Getenv("POSAGENT_BIGSTORE_AGENT_ONLY") != "" {
			files = nil
		}
		for _, f := range files {
			r := runMeasured(b, bin, append(f.args, "-config", config)...)
			b.Logf("file:  %-28s %7.2f s  RssAnon peak %6.1f MiB  %8.1f MiB written", strings.Join(f.args, " "), r.took.Seconds(), r.anonMiB, r.outMiB)
			r.report(b, f.key)
		}

		agent := exec.Command(bin, "run", "-config", config)
		agent.Stderr = os.Stderr
		started := time.Now()
		if err := agent.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
		stopSampling := sampleRss(agent.Process.Pid)
		// The agent serves its status endpoint once its store is open:
		// wait for it.
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
		opened, openPeak := time.Since(started), stopSampling()
		b.Logf("agent: open %.1f s, RssAnon peak %.1f MiB", opened.Seconds(), openPeak)
		b.ReportMetric(opened.Seconds(), "agent-open-s")
		b.ReportMetric(openPeak, "agent-open-anon-MiB")
		// The agent checks the store in full in the background once it
		// serves: the idle PAYs wait for that check to pass.
		stopSampling = sampleRss(agent.Process.Pid)
		for deadline := time.Now().Add(30 * time.Minute); ; {
			data, _ := os.ReadFile(logFile)
			if bytes.Contains(data, []byte("passed its integrity check")) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("the agent did not log that its store passed the integrity check within 30 minutes")
			}
			time.Sleep(50 * time.Millisecond) // the log file gives no event to wait on
		}
		checked, checkPeak := time.Since(started), stopSampling()
		b.Logf("agent: full check passed %.1f s after start, RssAnon peak %.1f MiB", checked.Seconds(), checkPeak)
		b.ReportMetric(checked.Seconds(), "agent-checked-s")
		b.ReportMetric(checkPeak, "agent-check-anon-MiB")
		stopSampling = sampleRss(agent.Process.Pid)
		reg := startRegister(b, line)
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
		agentIdle := stopSampling()
		idle50, idle99 := percentile(idle, 50), percentile(idle, 99)
		b.Logf("agent: PAY -> ACCEPTED idle:          p50 %6.2f ms  p99 %6.2f ms  (%d PAYs)", ms(idle50), ms(idle99), len(idle))
		b.ReportMetric(ms(idle50), "accepted-idle-p50-ms")
		b.ReportMetric(ms(idle99), "accepted-idle-p99-ms")
		b.ReportMetric(float64(len(idle)), "idle-pays")
		b.ReportMetric(agentIdle, "agent-idle-anon-MiB")

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
			d50, d99 := percentile(during, 50), percentile(during, 99)
			b.Logf("agent: %-28s %7.2f s  RssAnon peak %6.1f MiB  %8.1f MiB written; agent RssAnon peak %6.1f MiB (idle %.1f)",
				strings.Join(args, " "), r.took.Seconds(), r.anonMiB, r.outMiB, agentPeak, agentIdle)
			b.Logf("agent: PAY -> ACCEPTED during %-12s p50 %6.2f ms  p99 %6.2f ms  (%d PAYs)", args[1]+":", ms(d50), ms(d99), len(during))
			key := "via-agent-" + args[1]
			r.report(b, key)
			b.ReportMetric(agentPeak, key+"-agent-anon-MiB")
			b.ReportMetric(ms(d50), "accepted-during-"+args[1]+"-p50-ms")
			b.ReportMetric(ms(d99), "accepted-during-"+args[1]+"-p99-ms")
			b.ReportMetric(float64(len(during)), "pays-during-"+args[1])
			if idle99 > 0 {
				b.ReportMetric(float64(d99)/float64(idle99), "accepted-"+args[1]+"/idle-p99")
			}
		}
		agent.Process.Signal(os.Interrupt)
		agent.Wait()
	}
}

// pageFill returns how full, in percent, the pages of the store file's
// buckets are.
func pageFill(path string) (float64, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var pages, used int
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, bk *bolt.Bucket) error {
			st := bk.Stats()
			pages += st.LeafPageN + st.BranchPageN + st.LeafOverflowN + st.BranchOverflowN
			used += st.LeafInuse + st.BranchInuse
			return nil
		})
	})
	if err != nil || pages == 0 {
		return 0, err
	}
	return 100 * float64(used) / float64(pages*db.Info().PageSize), nil
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

// report reports m as metrics of b named key-s, key-anon-MiB and
// key-out-MiB.
func (m measured) report(b *testing.B, key string) {
	b.ReportMetric(m.took.Seconds(), key+"-s")
	b.ReportMetric(m.anonMiB, key+"-anon-MiB")
	b.ReportMetric(m.outMiB, key+"-out-MiB")
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
