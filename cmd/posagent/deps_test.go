package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDepsLeaveOutTestCode: the posagent binary, as shipped, links no test
// double and nothing of package testing. The demo's simulated Alipay
// (alipay/alipaysim) and register (device.Register) are product code; the
// test layers over them (alipaytest, devicetest, postest) are not. Checked
// for every platform the packages are built for, since the imports of a
// package can differ between them.
func TestDepsLeaveOutTestCode(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("no go command to list the dependencies with: %v", err)
	}
	for _, target := range []struct{ goos, goarch string }{
		{"linux", "amd64"}, {"linux", "arm64"}, {"linux", "arm"}, {"windows", "amd64"}, {"windows", "386"},
	} {
		t.Run(target.goos+"/"+target.goarch, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", "github.com/posagent/posagent/cmd/posagent")
			cmd.Env = append(cmd.Environ(), "GOOS="+target.goos, "GOARCH="+target.goarch, "CGO_ENABLED=0")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps: %v", err)
			}
			for _, pkg := range strings.Fields(string(out)) {
				if forbiddenDep(pkg) {
					t.Errorf("the posagent binary for %s/%s links %s, which is test code", target.goos, target.goarch, pkg)
				}
			}
		})
	}
}

// forbiddenDep says whether pkg is test code: package testing or one under
// it, or a test-helper package of this module.
func forbiddenDep(pkg string) bool {
	if pkg == "testing" || strings.HasPrefix(pkg, "testing/") {
		return true
	}
	last := pkg[strings.LastIndex(pkg, "/")+1:]
	return strings.HasPrefix(pkg, "github.com/posagent/posagent/") &&
		(strings.HasSuffix(last, "test") || strings.Contains(pkg, "/internal/postest"))
}

func TestForbiddenDep(t *testing.T) {
	tests := []struct {
		pkg  string
		want bool
	}{
		{"testing", true},
		{"testing/iotest", true},
		{"github.com/posagent/posagent/alipay/alipaytest", true},
		{"github.com/posagent/posagent/device/devicetest", true},
		{"github.com/posagent/posagent/internal/postest", true},
		{"github.com/posagent/posagent/alipay/alipaysim", false},
		{"github.com/posagent/posagent/device", false},
		{"net/http/httptest", false},
		{"github.com/rs/zerolog", false},
	}
	for _, tt := range tests {
		if got := forbiddenDep(tt.pkg); got != tt.want {
			t.Errorf("forbiddenDep(%q) = %v, want %v", tt.pkg, got, tt.want)
		}
	}
}
