package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// recordedDoc returns the document of the run recorded in testdata: the
// record of a run of size 100k, its steps' outputs, and the output of a
// one-minute soak.
func recordedDoc(t *testing.T) *doc {
	t.Helper()
	d, err := replayDoc("testdata")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRenderRecorded fills the template with recorded outputs: every
// figure the template asks for is there.
func TestRenderRecorded(t *testing.T) {
	d := recordedDoc(t)
	out, err := d.render()
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	if len(d.missing) > 0 || d.failed() {
		t.Errorf("figures missing: %q", d.missing)
	}
	for _, bad := range []string{"n/a", "Not measured", "<no value>", "NaN", "%!"} {
		if strings.Contains(text, bad) {
			t.Errorf("the document holds %q", bad)
		}
	}
	// A few figures, as the recorded outputs give them.
	for _, want := range []string{
		"This run: size **100k**, started " + d.Started.Format("2006-01-02 15:04") + " UTC",
		"Machine: " + d.Machine.Platform + ", " + strconv.Itoa(d.Machine.CPUs) + " CPUs (" + d.Machine.CPU + ")",
		"| PAY -> ACCEPTED on the wire | " + d.Sections["payaccepted"].Fig("BenchmarkPayAccepted", "accepted-p50-ms", "%.2f ms"),
		"| empty | SIGTERM (clean) | cold | " + d.Sections["startup"].Fig("BenchmarkStartup", "ms-0-clean-cold", "%.0f ms"),
		"| 100,000 (",
		"go test -count 1 -run '^$' -bench '^BenchmarkBurst$' -benchtime 200x -timeout 29m0s ./agent",
		d.Sections["soak"].Soak().Summary,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the document lacks %q", want)
		}
	}
	if kept := keptSoak(out); !strings.Contains(kept, d.Sections["soak"].Soak().Summary) {
		t.Errorf("the soak block between the markers is %q", kept)
	}
}

// TestRenderNotMeasured checks that a step that failed leaves its section
// with the reason and no table, and fails the run, and that a soak not run
// keeps the block of the previous document.
func TestRenderNotMeasured(t *testing.T) {
	d := recordedDoc(t)
	burst := d.Sections["burst"]
	burst.Err, burst.figures = "BenchmarkBurst failed: 3 of 200 PAYs accepted", nil
	soak := d.Sections["soak"]
	soak.Err, soak.At = "not run: the soak runs only with -soak", time.Time{}
	d.KeptSoak = "Measured long ago:\n\n```\nsoak: 1h0m0s, 3600 payments\n```"
	out, err := d.render()
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	if !d.failed() {
		t.Error("a failed step does not fail the run")
	}
	want := fmt.Sprintf("**Not measured**: BenchmarkBurst failed: 3 of 200 PAYs accepted (%s UTC, after %v).",
		burst.At.Format("2006-01-02 15:04"), burst.Took.Round(time.Second))
	if !strings.Contains(text, want) {
		t.Error("the burst section does not say why it was not measured")
	}
	if strings.Contains(text, "| pay/s |") {
		t.Error("the burst section has its table")
	}
	if got := keptSoak(out); got != d.KeptSoak {
		t.Errorf("the soak block is %q, want the kept %q", got, d.KeptSoak)
	}
	if len(d.missing) > 0 {
		t.Errorf("figures missing besides the failed step's: %q", d.missing)
	}
}

// TestRenderRecordedSoak checks that a document with no soak block, and no
// soak run, gets the recorded one-hour soak.
func TestRenderRecordedSoak(t *testing.T) {
	d := recordedDoc(t)
	soak := d.Sections["soak"]
	soak.Err, soak.At = "not run: the soak runs only with -soak", time.Time{}
	out, err := d.render()
	if err != nil {
		t.Fatal(err)
	}
	if got := keptSoak(out); !strings.HasPrefix(got, "Measured by hand with the one-hour command above on 7 December 2026") {
		t.Errorf("the soak block is %q, want the recorded one", got)
	}
	if d.failed() {
		t.Error("a soak not asked for fails the run")
	}
}

// TestRenderSoakFailed checks that a soak that failed says so, above the
// block kept from the previous document.
func TestRenderSoakFailed(t *testing.T) {
	d := recordedDoc(t)
	soak := d.Sections["soak"]
	soak.Err = "TestSoak failed: 3 PAYs were not answered"
	d.KeptSoak = "Measured long ago."
	out, err := d.render()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "**Not measured**: TestSoak failed: 3 PAYs were not answered") {
		t.Error("the soak's failure is not in the document")
	}
	if got := keptSoak(out); got != d.KeptSoak {
		t.Errorf("the soak block is %q, want the kept %q", got, d.KeptSoak)
	}
	if !d.failed() {
		t.Error("a failed soak does not fail the run")
	}
}

func TestParseSoak(t *testing.T) {
	out, err := os.ReadFile(filepath.Join("testdata", "soak.txt"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseSoak(string(out))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Summary, "soak: ") || r.Payments == 0 || r.StoreMiB == 0 || r.KiBPerPayment() == 0 {
		t.Errorf("summary %q, %d payments, %.1f MiB", r.Summary, r.Payments, r.StoreMiB)
	}
	if len(r.Slopes) != 7 {
		t.Errorf("slopes %q, want the heading and 6 lines", r.Slopes)
	}
	if len(r.Samples) < 3 || !strings.Contains(r.Samples[0], "elapsed") {
		t.Errorf("samples %q, want the header and the samples", r.Samples)
	}
	if r.Results == "" {
		t.Error("no results line")
	}
	if _, err := parseSoak("PASS\n"); err == nil {
		t.Error("an output without the summary line parses")
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 100000: "100,000", 1000000: "1,000,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
