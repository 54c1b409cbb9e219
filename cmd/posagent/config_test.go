package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	f := newFakeAMS(t)
	dir := filepath.Dir(f.config)
	noKeys := filepath.Join(dir, "nokeys.toml")
	doc, err := os.ReadFile(f.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(noKeys, []byte(strings.ReplaceAll(string(doc), ".pem", ".missing")), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join("..", "..", "config", "testdata", "bad.toml")
	long := filepath.Join(dir, "long.toml")
	if err := os.WriteFile(long, append(doc, "\n[polling]\ncancel_after = \"1h\"\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		config string
		code   int
		stdout string
		stderr []string
	}{
		{"good", f.config, exitOK, "config OK: " + f.config + "\n", nil},
		{"warning does not fail the check", long, exitOK, "config OK: " + long + "\n", []string{"warning: " + long + ":12: polling.cancel_after: 1h can reach past"}},
		{"every bad value", bad, exitUsage, "", []string{bad + ":3: register.port:", bad + ":33: status.allow_remote:"}},
		{"key files missing", noKeys, exitUsage, "", []string{"alipay.private_key_file: ", "alipay.alipay_public_key_file: "}},
		{"no file", filepath.Join(dir, "absent.toml"), exitUsage, "", []string{"absent.toml does not exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runArgs(t, "config", "check", "-config", tt.config)
			if r.code != tt.code || r.stdout != tt.stdout {
				t.Errorf("exit %d, stdout %q; want %d, %q", r.code, r.stdout, tt.code, tt.stdout)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
		})
	}
}

func TestConfigCheckReportsOneLinePerProblem(t *testing.T) {
	bad := filepath.Join("..", "..", "config", "testdata", "bad.toml")
	r := runArgs(t, "config", "check", "-config", bad)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 23 {
		t.Errorf("%d lines, want one for each of the 23 problems:\n%s", len(lines), r.stderr)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, bad+":") {
			t.Errorf("line %q does not start with the file and line", l)
		}
	}
}
