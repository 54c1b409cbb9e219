package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// figures are a run's benchmark results: by benchmark name (without the
// -N GOMAXPROCS suffix), by unit ("ns/op", "accepted-p50-ms", ...).
type figures map[string]map[string]float64

// parseBench reads the output of `go test -bench` and returns the figures
// of every benchmark in it. A result line is
//
//	BenchmarkName-2   	     300	   2070000 ns/op	  2.07 accepted-p50-ms ...
//
// but what the benchmark prints while it runs comes between the name,
// which the testing package prints first, and the rest of the line, so a
// name followed by anything else waits for the next line that holds only
// the iterations and the figures.
func parseBench(out string) figures {
	fs := figures{}
	pending := ""
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if strings.HasPrefix(f[0], "Benchmark") && !strings.HasPrefix(line, " ") {
			name := trimProcs(f[0])
			if r, ok := result(f[1:]); ok {
				fs[name], pending = r, ""
			} else {
				pending = name
			}
			continue
		}
		if pending == "" {
			continue
		}
		if r, ok := result(f); ok {
			fs[pending], pending = r, ""
		}
	}
	return fs
}

// trimProcs removes the -N suffix the testing package adds to a
// benchmark's name when GOMAXPROCS is not 1.
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}

// result reads the fields of a result after the benchmark's name: the
// iterations, then pairs of a value and its unit.
func result(f []string) (map[string]float64, bool) {
	if len(f) < 3 || len(f)%2 == 0 {
		return nil, false
	}
	if _, err := strconv.Atoi(f[0]); err != nil {
		return nil, false
	}
	r := map[string]float64{}
	for i := 1; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return nil, false
		}
		r[f[i+1]] = v
	}
	return r, true
}

// logPrefix is what t.Log puts before a line: the file and line number.
var logPrefix = regexp.MustCompile(`^\s+[\w.]+\.go:\d+: ?`)

// failure returns, in one line, why a `go test` command failed: the
// messages of its first failed or skipped test or benchmark, or its panic
// (a timeout), or else err.
func failure(out string, err error) string {
	lines := strings.Split(out, "\n")
	// The testing package prints a benchmark's name before it runs it,
	// so what it says of the benchmark follows the name on its line.
	from := func(l, marker string) (string, bool) {
		i := strings.Index(l, marker)
		if i < 0 {
			return "", false
		}
		return strings.TrimSpace(l[i:]), true
	}
	for i, l := range lines {
		if p, ok := from(l, "panic: "); ok {
			return clip(p)
		}
		t, ok := from(l, "--- FAIL:")
		if !ok {
			if t, ok = from(l, "--- SKIP:"); !ok {
				continue
			}
		}
		var msg []string
		for _, next := range lines[i+1 : min(i+4, len(lines))] {
			if !logPrefix.MatchString(next) {
				break
			}
			msg = append(msg, strings.TrimSpace(logPrefix.ReplaceAllString(next, "")))
		}
		what := "failed"
		if strings.HasPrefix(t, "--- SKIP:") {
			what = "skipped"
		}
		name := trimProcs(strings.Fields(t)[2])
		if len(msg) == 0 {
			return clip(name + " " + what)
		}
		return clip(name + " " + what + ": " + strings.Join(msg, "; "))
	}
	if err != nil {
		return clip(err.Error())
	}
	return ""
}

// clip shortens s to a line of at most 300 bytes.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:297] + "..."
	}
	return s
}

// soakRun is what a run of TestSoak printed.
type soakRun struct {
	Summary  string   // the line "soak: ..."
	Slopes   []string // the least-squares slopes, a line each
	Results  string   // the payments' final states and the Alipay calls
	Samples  []string // the table of samples, its header first
	Payments int      // payments in the store at the end
	StoreMiB float64  // size of the store file at the end
}

// KiBPerPayment is the store file's size divided by the payments in it.
func (r soakRun) KiBPerPayment() float64 {
	if r.Payments == 0 {
		return 0
	}
	return r.StoreMiB * 1024 / float64(r.Payments)
}

var soakSummary = regexp.MustCompile(`^soak: .* \(([\d.]+) MiB for (\d+) payments\)$`)

// parseSoak reads the output of `go test -v -run '^TestSoak$'`.
func parseSoak(out string) (soakRun, error) {
	var r soakRun
	inSlopes, inSamples := false, false
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		if m := soakSummary.FindStringSubmatch(line); m != nil {
			r.Summary = line
			r.StoreMiB, _ = strconv.ParseFloat(m[1], 64)
			r.Payments, _ = strconv.Atoi(m[2])
			continue
		}
		if !logPrefix.MatchString(line) {
			continue
		}
		msg := logPrefix.ReplaceAllString(line, "")
		switch {
		case strings.HasPrefix(msg, "least-squares slopes"):
			inSlopes, inSamples = true, false
			r.Slopes = append(r.Slopes, msg)
		case strings.HasPrefix(strings.TrimSpace(msg), "elapsed"):
			inSamples = true
			r.Samples = append(r.Samples, msg)
		case strings.HasPrefix(msg, "results: "):
			inSlopes, inSamples = false, false
			r.Results = strings.TrimPrefix(msg, "results: ")
		case inSlopes && strings.HasPrefix(msg, "  "):
			r.Slopes = append(r.Slopes, msg)
		case inSamples && strings.HasPrefix(msg, " "):
			r.Samples = append(r.Samples, msg)
		default:
			inSlopes, inSamples = false, false
		}
	}
	if r.Summary == "" {
		return r, fmt.Errorf("no summary line (soak: ...) in the soak's output")
	}
	return r, nil
}

// Markers around the soak's measured block in the document, which a run
// without -soak keeps as it is.
const (
	soakBegin = "<!-- soak measurement: begin -->"
	soakEnd   = "<!-- soak measurement: end -->"
)

// keptSoak returns the soak's measured block of the document old, without
// its markers, or "" when it has none.
func keptSoak(old []byte) string {
	s := string(old)
	i := strings.Index(s, soakBegin)
	j := strings.Index(s, soakEnd)
	if i < 0 || j < i {
		return ""
	}
	return strings.Trim(s[i+len(soakBegin):j], "\n")
}
