//go:build unix

package agent

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/posagent/posagent/alipay/alipaytest"
)

// buildPosagent builds the posagent command into dir and returns its path,
// for tests that run, stop and kill the real binary.
func buildPosagent(tb testing.TB, dir string) string {
	tb.Helper()
	bin := filepath.Join(dir, "posagent")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/posagent/posagent/cmd/posagent").CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// writeAgentConfig writes a configuration file at path for an agent on the
// register port that talks to srv with the key files priv and pub. rest
// follows the [alipay] keys: more of them, then the other sections.
func writeAgentConfig(tb testing.TB, path, port string, srv *alipaytest.Server, priv, pub, rest string) {
	tb.Helper()
	writeFile(tb, path, fmt.Sprintf(`[register]
port = %q
[alipay]
endpoint = %q
client_id = %q
private_key_file = %q
alipay_public_key_file = %q
`, port, srv.URL, srv.ClientID, priv, pub)+rest)
}

func writeFile(tb testing.TB, path, text string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
}
