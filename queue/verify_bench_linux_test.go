package queue

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkVerifyStore runs Open's full check (verify) on the store file
// POSAGENT_VERIFY_STORE, written by TestWriteBenchStore or
// TestWriteBigStore, and reports its time and the peak of the process's
// anonymous memory (RssAnon, sampled every 5 ms) above what it held
// before, and the CPU time it took (user and system, on every core),
// which a machine busy with other work changes less than the time. With
// POSAGENT_VERIFY_COLD=1 the page cache is dropped before every check
// (root only). It is skipped without a store.
func BenchmarkVerifyStore(b *testing.B) {
	path := os.Getenv("POSAGENT_VERIFY_STORE")
	if path == "" {
		b.Skip("set POSAGENT_VERIFY_STORE to a store file written by TestWriteBenchStore")
	}
	cold := os.Getenv("POSAGENT_VERIFY_COLD") == "1"
	var (
		peak float64
		cpu  time.Duration
	)
	for b.Loop() {
		b.StopTimer()
		if cold {
			syscall.Sync()
			if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
				b.Fatalf("drop the page cache: %v", err)
			}
		}
		base := ownRssAnon()
		stop := sampleOwnRssAnon()
		cpu0 := ownCPU()
		b.StartTimer()
		if err := verify(path, 2*time.Second); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += ownCPU() - cpu0
		peak = max(peak, stop()-base)
		b.StartTimer()
	}
	b.ReportMetric(peak, "anon-MiB")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

// ownCPU is the CPU time the process has used, user and system.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sampleOwnRssAnon samples the process's RssAnon every 5 ms until the
// returned function is called, which returns the peak in MiB.
func sampleOwnRssAnon() func() float64 {
	done := make(chan struct{})
	peak := make(chan float64, 1)
	go func() {
		top := ownRssAnon()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				peak <- max(top, ownRssAnon())
				return
			case <-tick.C:
				top = max(top, ownRssAnon())
			}
		}
	}()
	return func() float64 { close(done); return <-peak }
}

// ownRssAnon reads the process's RssAnon from /proc/self/status, in MiB.
func ownRssAnon() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssAnon:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return float64(kb) / 1024
		}
	}
	return 0
}
