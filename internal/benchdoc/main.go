// Command benchdoc runs every benchmark that docs/benchmarks.md reports and
// writes that document: the prose of each section comes from the template
// benchmarks.md.tmpl next to this file, and the figures, the machine, the
// date and the commands that produced them from one run of this program.
//
// Usage, from the repository's root:
//
//	go run ./internal/benchdoc [-size quick|100k|1m] [-o docs/benchmarks.md] [-soak 1h]
//
// -size chooses the iterations and the store sizes: quick (small stores,
// few iterations, a few minutes: for checking this program), 100k (the
// figures of the document, stores of 100,000 payments) or 1m (stores of
// 1,000,000 payments, an hour or more). Every benchmark runs as its own
// `go test` command with a time limit; one that fails or runs out of time
// leaves its figures as "not measured" with the reason, the others go on,
// and the program exits with status 1 at the end.
//
// The soak test runs for an hour or more, so it runs only with -soak (as
// POSAGENT_SOAK); without it the soak's measured block is kept as it is in
// the output file, with its own date and machine.
//
// -only runs the steps whose names match a regular expression, leaving
// the others not measured. Each step's output, and a record of the run
// (run.json: its size, its machine, when it ran), go to the folder -logs
// names; -replay writes the document again from such a folder without
// running anything, as after a change to the template. The unit tests
// replay the run recorded in testdata.
package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

//go:embed benchmarks.md.tmpl
var docTemplate string

func main() {
	out := flag.String("o", "docs/benchmarks.md", "the document to write")
	sizeName := flag.String("size", "100k", "the size of the run: quick, 100k or 1m")
	soak := flag.Duration("soak", 0, "run the soak test for this long (at least 1m); 0 keeps the soak block of the output file")
	only := flag.String("only", "", "run only the steps whose names match this regular expression; the others are not measured")
	logs := flag.String("logs", "", "the folder for the run's record and each step's output (default: a new folder in the temporary folder)")
	replay := flag.String("replay", "", "run nothing: write the document from the record of an earlier run in this folder (its -logs)")
	flag.Parse()
	var err error
	if *replay != "" {
		err = replayRun(*out, *replay)
	} else {
		err = run(*out, *sizeName, *soak, *only, *logs)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchdoc:", err)
		os.Exit(1)
	}
}

// errNotAll is the error of a run that wrote the document with figures
// missing.
var errNotAll = errors.New("some figures were not measured; see the document")

// record is what a run keeps of itself in its logs folder, beside the
// output of each step, so that -replay can write the document again.
type record struct {
	Size    string
	Soak    time.Duration
	Only    string
	Work    string // the folder of the big stores
	Started time.Time
	Took    time.Duration
	Machine machine
}

// recordFile is the name of the record in the logs folder.
const recordFile = "run.json"

func run(out, sizeName string, soak time.Duration, only, logs string) error {
	sz, ok := sizes[sizeName]
	if !ok {
		return fmt.Errorf("no size %q: give quick, 100k or 1m", sizeName)
	}
	if soak != 0 && soak < time.Minute {
		return fmt.Errorf("-soak %v: give at least 1m", soak)
	}
	if _, err := regexp.Compile(only); err != nil {
		return fmt.Errorf("-only: %w", err)
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if logs == "" {
		if logs, err = os.MkdirTemp("", "benchdoc-logs-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "benchdoc-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fmt.Fprintf(os.Stderr, "benchdoc: size %s, output of each step in %s\n", sz.Name, logs)

	rec := record{Size: sz.Name, Soak: soak, Only: only, Work: work, Started: time.Now().UTC(), Machine: describeMachine(root)}
	d := newDoc(rec)
	for _, st := range plan(sz, work, soak) {
		s := d.Sections[st.Name]
		if s.Err != "" {
			continue // not to run
		}
		fmt.Fprintf(os.Stderr, "== %s\n", st.Name)
		s.run(root, filepath.Join(logs, st.Name+".txt"))
		if s.Err != "" {
			fmt.Fprintf(os.Stderr, "   FAILED after %v: %s\n", s.Took.Round(time.Second), s.Err)
		} else {
			fmt.Fprintf(os.Stderr, "   done in %v\n", s.Took.Round(time.Second))
		}
	}
	d.Machine.LoadEnd = loadAverage()
	d.Took = time.Since(d.Started)
	rec.Machine, rec.Took = d.Machine, d.Took
	data, err := json.MarshalIndent(rec, "", "\t")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(logs, recordFile), data, 0o644); err != nil {
		return err
	}
	return d.write(out)
}

// replayRun writes the document out from the record of an earlier run
// in the folder logs.
func replayRun(out, logs string) error {
	d, err := replayDoc(logs)
	if err != nil {
		return err
	}
	return d.write(out)
}

// newDoc returns the document of the run rec, its sections not measured
// yet but for those that are not to run: the soak without -soak, and
// the steps -only leaves out.
func newDoc(rec record) *doc {
	sz := sizes[rec.Size]
	d := &doc{Size: sz, Started: rec.Started, Took: rec.Took, Machine: rec.Machine, Sections: map[string]*Section{}}
	d.Command = "go run ./internal/benchdoc -size " + sz.Name
	if rec.Soak != 0 {
		d.Command += " -soak " + rec.Soak.String()
	}
	if rec.Only != "" {
		d.Command += " -only " + shellQuote(rec.Only)
	}
	pick, _ := regexp.Compile(rec.Only)
	for _, st := range plan(sz, rec.Work, rec.Soak) {
		s := &Section{Step: st, doc: d}
		switch {
		case st.Name == "soak" && rec.Soak == 0:
			s.Err = "not run: the soak runs only with -soak"
		case rec.Only != "" && !pick.MatchString(st.Name):
			s.Err = "not run: not selected by -only " + rec.Only
		}
		d.Sections[st.Name] = s
	}
	return d
}

// replayDoc returns the document of the run recorded in the folder logs,
// from its record and the output of its steps.
func replayDoc(logs string) (*doc, error) {
	data, err := os.ReadFile(filepath.Join(logs, recordFile))
	if err != nil {
		return nil, err
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", recordFile, err)
	}
	if _, ok := sizes[rec.Size]; !ok {
		return nil, fmt.Errorf("%s: no size %q", recordFile, rec.Size)
	}
	if _, err := regexp.Compile(rec.Only); err != nil {
		return nil, fmt.Errorf("%s: %w", recordFile, err)
	}
	d := newDoc(rec)
	for name, s := range d.Sections {
		if s.Err != "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(logs, name+".txt"))
		if err != nil {
			return nil, err
		}
		s.replay(string(data))
	}
	return d, nil
}

// write writes the document to the file out, keeping the soak's block of
// the file when the soak did not run; it returns errNotAll when figures
// are missing.
func (d *doc) write(out string) error {
	old, err := os.ReadFile(out)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if !d.Sections["soak"].OK() {
		d.KeptSoak = keptSoak(old)
	}
	text, err := d.render()
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, text, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "benchdoc: wrote %s (run of %v)\n", out, d.Took.Round(time.Second))
	if d.failed() {
		return errNotAll
	}
	return nil
}

// moduleRoot returns the folder of the go.mod of the current directory's
// module: the benchmarks' commands run there.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run benchdoc inside the posagent module")
	}
	return filepath.Dir(mod), nil
}

// The lines a step's output file begins and ends with, for -replay.
const (
	startedLine     = "# benchdoc: started "
	tookLine        = "# benchdoc: took "
	notMeasuredLine = "# benchdoc: not measured: "
)

// run runs the step's commands one after the other in root, each within
// the step's limit, writing their output to the file log, and fills in
// the section's figures, or its Err.
func (s *Section) run(root, log string) {
	start := time.Now()
	s.At = start.UTC()
	f, err := os.Create(log)
	if err != nil {
		s.Err = err.Error()
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s%s\n", startedLine, s.At.Format(time.RFC3339))
	var all bytes.Buffer
	for _, c := range s.Step.Commands {
		fmt.Fprintf(f, "$ %s\n", c)
		var buf bytes.Buffer
		err := c.run(root, s.Step.Limit, io.MultiWriter(f, &buf))
		all.Write(buf.Bytes())
		if err != nil {
			s.Err = failure(buf.String(), err)
			break
		}
	}
	if s.Err == "" {
		s.fill(all.String())
	}
	s.Took = time.Since(start)
	fmt.Fprintf(f, "%s%v\n", tookLine, s.Took)
	if s.Err != "" {
		fmt.Fprintf(f, "%s%s\n", notMeasuredLine, s.Err)
	}
}

// replay fills in the section from its output file of an earlier run.
func (s *Section) replay(log string) {
	var out strings.Builder
	for line := range strings.Lines(log) {
		text := strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(text, startedLine):
			s.At, _ = time.Parse(time.RFC3339, strings.TrimPrefix(text, startedLine))
		case strings.HasPrefix(text, tookLine):
			s.Took, _ = time.ParseDuration(strings.TrimPrefix(text, tookLine))
		case strings.HasPrefix(text, notMeasuredLine):
			s.Err = strings.TrimPrefix(text, notMeasuredLine)
		default:
			out.WriteString(line)
		}
	}
	if s.Err == "" {
		s.fill(out.String())
	}
}

// fill reads the section's figures from its commands' output, and sets
// Err when one of its benchmarks gave none.
func (s *Section) fill(out string) {
	s.figures = parseBench(out)
	for _, name := range s.Step.Benchmarks {
		if _, ok := s.figures[name]; !ok {
			s.Err = "no figures from " + name + " in the output"
			if why := failure(out, nil); why != "" {
				s.Err += ": " + why
			}
			return
		}
	}
	if s.Step.Name == "soak" {
		var err error
		if s.soak, err = parseSoak(out); err != nil {
			s.Err = err.Error()
		}
	}
}

// run runs c in dir, its output to w, and ends it, with every process
// it started, when limit has passed.
func (c command) run(dir string, limit time.Duration, w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", c.Args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdout, cmd.Stderr = w, w
	killGroup(cmd)
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("stopped at its time limit of %v", limit)
	}
	return err
}
