package service

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func noResolve(t *testing.T) func(string) string {
	return func(string) string {
		t.Fatal("a usage error reached the service manager")
		return ""
	}
}

func TestCommandRefusesBadUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no action", nil, "usage: posagent service"},
		{"unknown action", []string{"enable"}, `unknown action "enable"`},
		{"unknown flag", []string{"install", "-conf", "x"}, "flag provided but not defined: -conf"},
		{"flag without value", []string{"status", "-config"}, "flag needs an argument"},
		{"extra word", []string{"start", "now"}, `unexpected argument "now"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Command(tt.args, &stdout, &stderr, noResolve(t)); code != exitUsage {
				t.Errorf("exit status %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.want)
			}
		})
	}
}

func TestCommandHelpGoesToStdout(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"status", "-h"}} {
		var stdout, stderr bytes.Buffer
		if code := Command(args, &stdout, &stderr, noResolve(t)); code != exitOK {
			t.Errorf("%q: exit status %d, want 0", args, code)
		}
		if !strings.Contains(stdout.String(), "usage: posagent service") || stderr.Len() != 0 {
			t.Errorf("%q: stdout %q stderr %q", args, stdout.String(), stderr.String())
		}
	}
}

func TestNewManagerMakesTheConfigPathAbsolute(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(Name, filepath.Join("conf", "posagent.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(wd, "conf", "posagent.toml"); m.ConfigPath != want {
		t.Errorf("ConfigPath = %q, want %q", m.ConfigPath, want)
	}
	if !filepath.IsAbs(m.Executable) {
		t.Errorf("Executable = %q, want an absolute path", m.Executable)
	}
}

func TestManagerRefusesRelativePaths(t *testing.T) {
	m := &Manager{Name: Name, Executable: "posagent", ConfigPath: "posagent.toml"}
	if _, err := m.config(); err == nil {
		t.Fatal("config() accepted relative paths, which a service would resolve in another folder")
	}
}

func TestRunArgsNameTheConfig(t *testing.T) {
	args := RunArgs(`C:\ProgramData\posagent\posagent.toml`)
	if len(args) != 3 || args[0] != "run" || configArg(args[1:]) != `C:\ProgramData\posagent\posagent.toml` {
		t.Fatalf("RunArgs = %q", args)
	}
}
