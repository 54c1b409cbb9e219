package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// doc is what the template is filled with.
type doc struct {
	Command  string // the command line that wrote the document
	Size     sizing
	Started  time.Time
	Took     time.Duration
	Machine  machine
	Sections map[string]*Section
	KeptSoak string // the soak's block of the previous document, kept

	missing []string // figures the template asked for and no run gave
}

// Section is one step's run, as the template sees it.
type Section struct {
	Step step
	At   time.Time     // when it started, UTC
	Took time.Duration // how long its commands ran
	Err  string        // why it has no figures; "" when it has

	doc     *doc
	figures figures
	soak    soakRun
}

// OK reports whether the step ran and gave its figures.
func (s *Section) OK() bool { return s.Err == "" }

// Run is the block that opens a section: its commands, and when they ran
// and for how long, or why they gave no figures.
func (s *Section) Run() string {
	var b strings.Builder
	b.WriteString("```sh\n")
	for _, c := range s.Step.Commands {
		b.WriteString(c.String() + "\n")
	}
	b.WriteString("```\n\n")
	switch {
	case s.Err == "":
		fmt.Fprintf(&b, "Measured %s UTC (%v).", s.At.Format("2006-01-02 15:04"), s.Took.Round(time.Second))
	case s.At.IsZero():
		fmt.Fprintf(&b, "**Not measured** in this run (%s).", s.Err)
	default:
		fmt.Fprintf(&b, "**Not measured**: %s (%s UTC, after %v).", s.Err, s.At.Format("2006-01-02 15:04"), s.Took.Round(time.Second))
	}
	return b.String()
}

// Fig returns the figure unit of benchmark name, formatted by format, or
// "n/a" when the run gave none, which fails the run.
func (s *Section) Fig(name, unit, format string) string {
	v, ok := s.value(name, unit)
	if !ok {
		return "n/a"
	}
	return fmt.Sprintf(format, v)
}

// Ratio returns the figure unit of benchmark name divided by the figure
// baseUnit of benchmark base, formatted by format.
func (s *Section) Ratio(name, unit, base, baseUnit, format string) string {
	v, ok1 := s.value(name, unit)
	w, ok2 := s.value(base, baseUnit)
	if !ok1 || !ok2 || w == 0 {
		return "n/a"
	}
	return fmt.Sprintf(format, v/w)
}

// Value returns the figure unit of benchmark name, 0 when the run gave
// none, which fails the run.
func (s *Section) Value(name, unit string) float64 {
	v, _ := s.value(name, unit)
	return v
}

func (s *Section) value(name, unit string) (float64, bool) {
	v, ok := s.figures[name][unit]
	if !ok && s.OK() {
		s.doc.missing = append(s.doc.missing, fmt.Sprintf("%s: %s %s", s.Step.Name, name, unit))
	}
	return v, ok
}

// Soak is what the soak test printed, when the step ran.
func (s *Section) Soak() soakRun { return s.soak }

// failed reports whether a step that was meant to run gave no figures, or
// the template asked for one no step gave.
func (d *doc) failed() bool {
	if len(d.missing) > 0 {
		return true
	}
	for _, s := range d.Sections {
		if s.Err != "" && !s.At.IsZero() {
			return true
		}
	}
	return false
}

// render fills the template.
func (d *doc) render() ([]byte, error) {
	t, err := template.New("benchmarks.md").Funcs(template.FuncMap{
		"thousands": thousands,
		"mul":       func(a, b float64) float64 { return a * b },
		"div": func(a, b float64) float64 {
			if b == 0 {
				return math.NaN()
			}
			return a / b
		},
		"hasPrefix": strings.HasPrefix,
		"list":      func(s ...string) []string { return s },
		"stopText":  stopText,
		"rounds":    func(benchtime string) string { return strings.TrimSuffix(benchtime, "x") },
		"soakBegin": func() string { return soakBegin },
		"soakEnd":   func() string { return soakEnd },
	}).Parse(docTemplate)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return nil, err
	}
	if len(d.missing) > 0 {
		fmt.Fprintf(os.Stderr, "benchdoc: figures missing from the output: %s\n", strings.Join(d.missing, ", "))
	}
	return b.Bytes(), nil
}

// stopText says how the start-up benchmark ended the run before the
// measured one.
func stopText(stop string) string {
	switch stop {
	case "clean":
		return "SIGTERM (clean)"
	case "kill":
		return "SIGKILL, after the check passed"
	case "kill-early":
		return "SIGKILL, before the check passed (full check at open)"
	}
	return stop
}

// thousands writes n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// machine describes where the benchmarks ran.
type machine struct {
	Platform  string // GOOS/GOARCH
	CPU       string // model, from /proc/cpuinfo
	CPUs      int
	Memory    string // total, from /proc/meminfo
	TempDir   string
	TempFS    string // the file system of TempDir, from /proc/mounts
	Go        string // the go command's version
	LoadStart string // the load average, from /proc/loadavg
	LoadEnd   string
}

// describeMachine describes this machine; what it cannot find out is
// "unknown".
func describeMachine(root string) machine {
	m := machine{
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
		CPU:       "unknown",
		CPUs:      runtime.NumCPU(),
		Memory:    "unknown",
		TempDir:   os.TempDir(),
		TempFS:    "unknown",
		Go:        "unknown",
		LoadStart: loadAverage(),
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
				if err == nil {
					m.Memory = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
				}
			}
		}
	}
	m.TempFS = fileSystem(m.TempDir)
	cmd := exec.Command("go", "env", "GOVERSION")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		m.Go = strings.TrimSpace(string(out))
	}
	return m
}

// fileSystem returns the type and the device of the file system that
// holds dir, from the longest mount point of /proc/mounts above it.
func fileSystem(dir string) string {
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	data, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "unknown"
	}
	best, fs := "", "unknown"
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		point := f[1]
		if (dir == point || strings.HasPrefix(dir, strings.TrimSuffix(point, "/")+"/")) && len(point) >= len(best) {
			best, fs = point, f[2]+" on "+f[0]
		}
	}
	return fs
}

// loadAverage returns the load average of the last minute, or "unknown".
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}
