package postest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/posagent/posagent/alipay/alipaysim"
)

// Token is a well-formed status token (64 hex digits) for tests of the
// status endpoint's authentication.
const Token = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

// WriteFile writes text to path, readable by its owner only, or fails tb.
func WriteFile(tb testing.TB, path, text string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// WriteConfig writes a configuration file at path for an agent on the
// register port that talks to srv with the key files priv and pub. rest
// follows the [alipay] keys: more of them, then the other sections.
func WriteConfig(tb testing.TB, path, port string, srv *alipaysim.Server, priv, pub, rest string) {
	tb.Helper()
	WriteFile(tb, path, fmt.Sprintf(`[register]
port = %q
[alipay]
endpoint = %q
client_id = %q
private_key_file = %q
alipay_public_key_file = %q
`, port, srv.URL, srv.ClientID, priv, pub)+rest)
}

// BuildPosagent builds the posagent command into dir and returns its path,
// for tests that run, stop and kill the real binary.
func BuildPosagent(tb testing.TB, dir string) string {
	tb.Helper()
	bin := filepath.Join(dir, "posagent")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/posagent/posagent/cmd/posagent").CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
