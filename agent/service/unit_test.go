package service

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// unitDirectives reads a unit file into section.Key -> values.
func unitDirectives(t *testing.T, unit string) map[string][]string {
	t.Helper()
	d := make(map[string][]string)
	section := ""
	sc := bufio.NewScanner(strings.NewReader(unit))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "", strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("unit line %q is not KEY=VALUE", line)
			}
			d[section+"."+k] = append(d[section+"."+k], v)
		}
	}
	return d
}

func TestUnitHasRequiredDirectives(t *testing.T) {
	d := unitDirectives(t, unitFile)
	want := []struct{ key, value string }{
		{"Unit.After", "network-online.target"},
		{"Unit.Wants", "network-online.target"},
		{"Unit.StartLimitIntervalSec", "0"},
		{"Service.ExecStart", "/usr/bin/posagent run -config /etc/posagent/posagent.toml"},
		{"Service.Restart", "always"},
		{"Service.RestartSec", "2"},
		{"Service.User", "posagent"},
		{"Service.Group", "posagent"},
		{"Service.SupplementaryGroups", "dialout"},
		{"Service.StateDirectory", "posagent"},
		{"Service.ConfigurationDirectory", "posagent"},
		{"Service.LogsDirectory", "posagent"},
		{"Service.TimeoutStopSec", "15"},
		{"Service.NoNewPrivileges", "yes"},
		{"Service.ProtectSystem", "strict"},
		{"Service.ProtectHome", "yes"},
		{"Service.PrivateTmp", "yes"},
		{"Install.WantedBy", "multi-user.target"},
	}
	for _, w := range want {
		if got := d[w.key]; !slices.Equal(got, []string{w.value}) {
			t.Errorf("%s = %q, want exactly %q", w.key, got, w.value)
		}
	}
}

func TestUnitLeavesSerialPortsReachable(t *testing.T) {
	d := unitDirectives(t, unitFile)
	// Each of these would hide /dev/ttyUSB0 or forbid opening it.
	for _, key := range []string{"Service.PrivateDevices", "Service.DevicePolicy", "Service.DeviceAllow", "Service.DynamicUser"} {
		if v, ok := d[key]; ok {
			t.Errorf("unit sets %s=%q, which can keep the agent from the serial port", key, v)
		}
	}
}

func TestUnitStopsWithinSystemdTimeout(t *testing.T) {
	// Run gives the agent StopTimeout; systemd must wait longer than that
	// before it kills the process, or a clean stop becomes a SIGKILL.
	if got := unitDirectives(t, unitFile)["Service.TimeoutStopSec"]; len(got) != 1 || got[0] != "15" || StopTimeout.Seconds() >= 15 {
		t.Errorf("TimeoutStopSec = %q with StopTimeout %v; systemd must wait longer than Run", got, StopTimeout)
	}
}

func TestUnitWithDefaultPathsIsThePackagedUnit(t *testing.T) {
	got, err := Unit(DefaultExecutable, DefaultUnixConfig)
	if err != nil {
		t.Fatal(err)
	}
	if got != unitFile {
		t.Fatalf("Unit(defaults) differs from the embedded unit:\n%s", got)
	}
}

func TestUnitRejectsRelativePaths(t *testing.T) {
	for _, c := range [][2]string{
		{"posagent", DefaultUnixConfig},
		{DefaultExecutable, "posagent.toml"},
		{DefaultExecutable, ""},
	} {
		if _, err := Unit(c[0], c[1]); err == nil {
			t.Errorf("Unit(%q, %q) gave no error for a relative path", c[0], c[1])
		}
	}
}

// awkwardPaths are configuration paths whose characters systemd gives a
// meaning to unless they are quoted or escaped.
var awkwardPaths = []string{
	"/etc/posagent/posagent.toml",
	"/opt/pos agent/posagent.toml",
	"/opt/100%/posagent.toml",
	"/opt/$HOME/posagent.toml",
	`/opt/say "hi"/posagent.toml`,
	`/opt/back\slash/posagent.toml`,
	"/opt/semi;colon/posagent.toml",
	"/opt/tab\there/posagent.toml",
}

func TestUnitExecStartRoundTrips(t *testing.T) {
	for _, cfg := range awkwardPaths {
		t.Run(cfg, func(t *testing.T) {
			exe := "/opt/pos agent/bin/posagent"
			unit, err := Unit(exe, cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := execStartWords(unit)
			want := append([]string{exe}, RunArgs(cfg)...)
			if !slices.Equal(got, want) {
				t.Fatalf("ExecStart words = %q, want %q", got, want)
			}
		})
	}
}

// TestSystemdAcceptsUnitQuoting has systemd itself read the ExecStart line
// Unit writes for a path that needs quoting.
func TestSystemdAcceptsUnitQuoting(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "pos agent 100%", "posagent")
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unit, err := Unit(exe, filepath.Join(dir, `my "config" $1.toml`))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "posagent.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s\n%s", err, out, unit)
	}
	// verify passes a unit whose executable it cannot find only with a
	// complaint, so no output means systemd found the quoted path.
	if strings.Contains(string(out), "posagent.service") {
		t.Fatalf("systemd-analyze verify complained:\n%s", out)
	}
}

func TestConfigArg(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "-config", "/etc/p.toml"}, "/etc/p.toml"},
		{[]string{"run", "--config", "/etc/p.toml"}, "/etc/p.toml"},
		{[]string{"run", "-config=/etc/p.toml"}, "/etc/p.toml"},
		{[]string{"run", "--config=C:\\ProgramData\\posagent\\posagent.toml"}, `C:\ProgramData\posagent\posagent.toml`},
		{[]string{"run"}, ""},
		{[]string{"run", "-config"}, ""},
		{[]string{"run", "config", "/etc/p.toml"}, ""},
		{[]string{"run", "-configs", "/etc/p.toml"}, ""},
	}
	for _, tt := range tests {
		if got := configArg(tt.args); got != tt.want {
			t.Errorf("configArg(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestSplitSystemdHandlesPrefixesAndBlanks(t *testing.T) {
	got := splitSystemd(`-/usr/bin/posagent   run  "-config"	/etc/p.toml`)
	want := []string{"/usr/bin/posagent", "run", "-config", "/etc/p.toml"}
	if !slices.Equal(got, want) {
		t.Fatalf("splitSystemd = %q, want %q", got, want)
	}
}
