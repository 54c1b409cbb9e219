package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// result is what one posagent command line produced.
type result struct {
	code           int
	stdout, stderr string
}

// runArgs runs the command line args in process.
func runArgs(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

func TestRunRefusesBadCommandLines(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no command", nil, "usage: posagent COMMAND"},
		{"unknown command", []string{"fly"}, `unknown command "fly"`},
		{"version with an argument", []string{"version", "extra"}, `unexpected argument "extra"`},
		{"version with a flag", []string{"version", "-v"}, "flag provided but not defined: -v"},
		{"config without check", []string{"config"}, "usage: posagent config check"},
		{"config with another verb", []string{"config", "show"}, "usage: posagent config check"},
		{"config check with an argument", []string{"config", "check", "x.toml"}, `unexpected argument "x.toml"`},
		{"inquire without an id", []string{"inquire"}, "give exactly one of -request-id and -payment-id"},
		{"inquire with both ids", []string{"inquire", "-request-id", "R", "-payment-id", "P"}, "give exactly one of"},
		{"inquire with an empty id", []string{"inquire", "-request-id", ""}, "give exactly one of"},
		{"inquire with a bad flag", []string{"inquire", "-id", "R"}, "flag provided but not defined: -id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runArgs(t, tt.args...)
			if r.code != exitUsage {
				t.Errorf("exit %d, want %d", r.code, exitUsage)
			}
			if !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
}

func TestRunHelpListsEveryCommand(t *testing.T) {
	for _, arg := range []string{"help", "-h", "--help"} {
		r := runArgs(t, arg)
		if r.code != exitOK {
			t.Errorf("%s: exit %d, want 0", arg, r.code)
		}
		for _, c := range commands() {
			if !strings.Contains(r.stdout, "posagent "+c.name+" ") {
				t.Errorf("%s: usage lacks %s:\n%s", arg, c.name, r.stdout)
			}
		}
	}
}

func TestSubcommandHelpExitsZero(t *testing.T) {
	r := runArgs(t, "inquire", "-h")
	if r.code != exitOK || !strings.Contains(r.stderr, "-request-id") {
		t.Errorf("inquire -h: exit %d, stderr %q", r.code, r.stderr)
	}
}

// buildBinary builds posagent with version stamped in and returns its path.
func buildBinary(t *testing.T, version string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "posagent")
	cmd := exec.Command("go", "build", "-o", bin, "-ldflags", "-X main.version="+version, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBinary runs the built binary with args and env added to its
// environment.
func runBinary(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running %s: %v", bin, err)
		}
		code = ee.ExitCode()
	}
	return result{code, stdout.String(), stderr.String()}
}

func TestBinaryVersionAndExitStatus(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, "1.2.3-test")
	if r := runBinary(t, bin, nil, "version"); r.code != 0 || r.stdout != "posagent 1.2.3-test\n" {
		t.Errorf("version: exit %d, stdout %q", r.code, r.stdout)
	}
	if r := runBinary(t, bin, nil); r.code != exitUsage || !strings.Contains(r.stderr, "usage:") {
		t.Errorf("no arguments: exit %d, stderr %q", r.code, r.stderr)
	}
}
