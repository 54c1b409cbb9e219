package main

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseBench(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want figures
	}{
		{
			name: "result lines",
			out: "goos: linux\n" +
				"BenchmarkPayAccepted-2   \t     300\t   2070000 ns/op\t         2.07 accepted-p50-ms\t        10.7 accepted-p99-ms\n" +
				"BenchmarkOpen-16 \t 3\t 3700000000 ns/op\t 3.7 s/open\n" +
				"PASS\n",
			want: figures{
				"BenchmarkPayAccepted": {"ns/op": 2070000, "accepted-p50-ms": 2.07, "accepted-p99-ms": 10.7},
				"BenchmarkOpen":        {"ns/op": 3.7e9, "s/open": 3.7},
			},
		},
		{
			name: "without the GOMAXPROCS suffix",
			out:  "BenchmarkBurst \t 200\t 5 ns/op\t 300 pay/s\n",
			want: figures{"BenchmarkBurst": {"ns/op": 5, "pay/s": 300}},
		},
		{
			name: "output between the name and its figures",
			out: "BenchmarkBigStore-2   \t{\"level\":\"warn\",\"message\":\"1h can reach past\"}\n" +
				"2026-12-07T22:37:50Z INF stopping\n" +
				"       1\t11520259803 ns/op\t         35.4 file-MiB\t        78.0 page-fill-%\n" +
				"--- BENCH: BenchmarkBigStore-2\n" +
				"    bigstore_bench_linux_test.go:76: store: 35.4 MiB\n",
			want: figures{"BenchmarkBigStore": {"ns/op": 11520259803, "file-MiB": 35.4, "page-fill-%": 78}},
		},
		{
			name: "a failed benchmark has no figures",
			out: "BenchmarkStartup-2   \t--- FAIL: BenchmarkStartup-2\n" +
				"    startup_bench_unix_test.go:150: prepare: no HELLO from the agent\n" +
				"FAIL\n",
			want: figures{},
		},
		{
			name: "lines of numbers with no benchmark before them",
			out:  "  1 2 a b\n",
			want: figures{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseBench(tt.out); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseBench = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFailure(t *testing.T) {
	tests := []struct {
		name string
		out  string
		err  error
		want string
	}{
		{
			name: "failed benchmark",
			out: "BenchmarkStartup-2   \t--- FAIL: BenchmarkStartup-2\n" +
				"    startup_bench_unix_test.go:150: prepare: no HELLO from the agent:\n" +
				"        context deadline exceeded\n" +
				"FAIL\n",
			err:  errors.New("exit status 1"),
			want: "BenchmarkStartup failed: prepare: no HELLO from the agent:",
		},
		{
			name: "skipped benchmark",
			out: "BenchmarkStartup-2   \t--- SKIP: BenchmarkStartup-2\n" +
				"    startup_bench_unix_test.go:41: restarting an agent killed on the same pty needs root\n" +
				"PASS\n",
			want: "BenchmarkStartup skipped: restarting an agent killed on the same pty needs root",
		},
		{
			name: "failed test with two messages",
			out: "--- FAIL: TestWriteBigStore (1.00s)\n" +
				"    bigstore_test.go:40: first\n" +
				"    bigstore_test.go:41: second\n",
			err:  errors.New("exit status 1"),
			want: "TestWriteBigStore failed: first; second",
		},
		{
			name: "timeout",
			out:  "BenchmarkBigStore-2 \tpanic: test timed out after 9m0s\n\trunning tests:\n",
			err:  errors.New("exit status 2"),
			want: "panic: test timed out after 9m0s",
		},
		{
			name: "nothing in the output",
			out:  "# github.com/posagent/posagent/agent\n",
			err:  errors.New("exit status 1"),
			want: "exit status 1",
		},
		{
			name: "no failure",
			out:  "PASS\n",
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := failure(tt.out, tt.err); got != tt.want {
				t.Errorf("failure = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKeptSoak(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"block", "a\n" + soakBegin + "\nmeasured\nthen\n" + soakEnd + "\nb\n", "measured\nthen"},
		{"no markers", "a\nb\n", ""},
		{"markers the wrong way", soakEnd + "\nx\n" + soakBegin, ""},
		{"empty block", soakBegin + "\n" + soakEnd, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keptSoak([]byte(tt.doc)); got != tt.want {
				t.Errorf("keptSoak = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"./agent":                    "./agent",
		"^BenchmarkOpen$":            "'^BenchmarkOpen$'",
		"POSAGENT_IDLE=60s":          "POSAGENT_IDLE=60s",
		"a b":                        "'a b'",
		"it's":                       `'it'\''s'`,
		"":                           "''",
		"POSAGENT_STARTUP_SIZES=0,1": "POSAGENT_STARTUP_SIZES=0,1",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
