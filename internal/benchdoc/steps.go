package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// sizing is how much one run measures: the iterations of each benchmark,
// the sizes of the stores it writes and how long each command may take.
type sizing struct {
	Name string

	PayAccepted, FirstPay, ResultLatency, Burst, Open, ReadDay string // -benchtime
	Idle                                                       string // POSAGENT_IDLE

	BigStore     int // payments in the big store
	BigStorePays int // PAYs timed on it while the agent is idle
	Startup      []int
	StartupRuns  int
	Syncs        []int // seconds of PROCESSING of the payments whose syncs are counted

	Limit time.Duration // for each command
}

// sizes are the sizes -size chooses from.
var sizes = map[string]sizing{
	"quick": {
		Name: "quick", PayAccepted: "50x", FirstPay: "5x", ResultLatency: "50x", Burst: "50x",
		Open: "1x", ReadDay: "5x", Idle: "10s",
		BigStore: 10000, BigStorePays: 100, Startup: []int{0, 10000}, StartupRuns: 1,
		Syncs: []int{2, 5}, Limit: 10 * time.Minute,
	},
	"100k": {
		Name: "100k", PayAccepted: "300x", FirstPay: "20x", ResultLatency: "300x", Burst: "200x",
		Open: "3x", ReadDay: "20x", Idle: "60s",
		BigStore: 100000, BigStorePays: 1000, Startup: []int{0, 100000, 1000000}, StartupRuns: 3,
		Syncs: []int{2, 20, 60}, Limit: 30 * time.Minute,
	},
	"1m": {
		Name: "1m", PayAccepted: "300x", FirstPay: "20x", ResultLatency: "300x", Burst: "200x",
		Open: "3x", ReadDay: "20x", Idle: "60s",
		BigStore: 1000000, BigStorePays: 1000, Startup: []int{0, 1000000}, StartupRuns: 1,
		Syncs: []int{2, 20, 60}, Limit: 90 * time.Minute,
	},
}

// step is one section's measurement: the commands that run it, one after
// the other, and the benchmarks whose figures it must report.
type step struct {
	Name       string // the section's name in the template
	Commands   []command
	Benchmarks []string
	Limit      time.Duration // for each command
}

// command is one `go` command with its environment.
type command struct {
	Env  []string // NAME=value, added to this process's environment
	Args []string // after "go"
}

// String returns c as a shell command line.
func (c command) String() string {
	var parts []string
	for _, e := range c.Env {
		parts = append(parts, shellQuote(e))
	}
	parts = append(parts, "go")
	for _, a := range c.Args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// letters, digits and a few punctuation marks.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./=:,-+%@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// bench is the command that runs the benchmarks matching pattern in pkg.
func bench(pkg, pattern, benchtime string, limit time.Duration, env ...string) command {
	return command{Env: env, Args: []string{"test", "-count", "1", "-run", "^$", "-bench", pattern,
		"-benchtime", benchtime, "-timeout", limit.String(), pkg}}
}

// plan returns the steps of a run of size sz, with the big stores in the
// folder work; soak is how long the soak runs (0: its step is listed but
// not run).
func plan(sz sizing, work string, soak time.Duration) []step {
	lim := sz.Limit
	// The command's own limit ends it first, with the goroutines' stacks
	// in its output; the step's limit is the backstop.
	goLim := lim - time.Minute
	big := filepath.Join(work, "bigstore.db")
	soakLimit := 2*soak + 10*time.Minute
	return []step{
		{Name: "payaccepted", Limit: lim, Benchmarks: []string{"BenchmarkPayAccepted"},
			Commands: []command{bench("./agent", "^BenchmarkPayAccepted$", sz.PayAccepted, goLim)}},
		{Name: "firstpay", Limit: lim, Benchmarks: []string{"BenchmarkFirstPay"},
			Commands: []command{bench("./agent", "^BenchmarkFirstPay$", sz.FirstPay, goLim)}},
		{Name: "result", Limit: lim, Benchmarks: []string{"BenchmarkResultLatency"},
			Commands: []command{bench("./agent", "^BenchmarkResultLatency$", sz.ResultLatency, goLim)}},
		{Name: "idle", Limit: lim, Benchmarks: []string{"BenchmarkIdleAgent"},
			Commands: []command{bench("./agent", "^BenchmarkIdleAgent$", "1x", goLim, "POSAGENT_IDLE="+sz.Idle)}},
		{Name: "open", Limit: lim, Benchmarks: []string{"BenchmarkOpenDamaged", "BenchmarkOpen"},
			Commands: []command{bench("./queue", "^(BenchmarkOpenDamaged|BenchmarkOpen)$", sz.Open, goLim)}},
		{Name: "readday", Limit: lim, Benchmarks: []string{"BenchmarkReadDay"},
			Commands: []command{bench("./report", "^BenchmarkReadDay$", sz.ReadDay, goLim)}},
		{Name: "bigstore", Limit: lim, Benchmarks: []string{"BenchmarkBigStore"},
			Commands: []command{
				{Env: []string{"POSAGENT_BIGSTORE=" + big, "POSAGENT_BIGSTORE_N=" + strconv.Itoa(sz.BigStore)},
					Args: []string{"test", "-count", "1", "-run", "^TestWriteBigStore$", "-v", "-timeout", goLim.String(), "./queue"}},
				bench("./agent", "^BenchmarkBigStore$", "1x", goLim,
					"POSAGENT_BIGSTORE="+big, "POSAGENT_BIGSTORE_PAYS="+strconv.Itoa(sz.BigStorePays)),
			}},
		{Name: "soak", Limit: soakLimit + time.Minute,
			Commands: []command{{Env: []string{"POSAGENT_SOAK=" + soak.String()},
				Args: []string{"test", "-count", "1", "-run", "^TestSoak$", "-v", "-timeout", soakLimit.String(), "./agent"}}}},
		{Name: "startup", Limit: lim, Benchmarks: []string{"BenchmarkStartup"},
			Commands: []command{bench("./agent", "^BenchmarkStartup$", "1x", goLim,
				"POSAGENT_STARTUP_SIZES="+joinInts(sz.Startup), fmt.Sprintf("POSAGENT_STARTUP_RUNS=%d", sz.StartupRuns))}},
		{Name: "commits", Limit: lim, Benchmarks: []string{"BenchmarkCommits"},
			Commands: []command{bench("./agent", "^BenchmarkCommits$", "1x", goLim)}},
		{Name: "syncs", Limit: lim, Benchmarks: []string{"BenchmarkSyncs"},
			Commands: []command{bench("./agent", "^BenchmarkSyncs$", "1x", goLim, "POSAGENT_SYNCS_SECONDS="+joinInts(sz.Syncs))}},
		{Name: "burst", Limit: lim, Benchmarks: []string{"BenchmarkBurst"},
			Commands: []command{bench("./agent", "^BenchmarkBurst$", sz.Burst, goLim)}},
	}
}

// joinInts returns ns as a comma-separated list.
func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
