package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/alipay/alipaytest"
	"github.com/posagent/posagent/config"
)

// fakeAMS is a fake AMS server and a configuration file for a client of it,
// with the key files beside the configuration.
type fakeAMS struct {
	srv    *alipaysim.Server
	config string
}

func newFakeAMS(t *testing.T) *fakeAMS {
	t.Helper()
	srv := alipaytest.NewServer(t)
	dir := t.TempDir()
	if _, _, err := srv.WriteKeyFiles(dir); err != nil {
		t.Fatal(err)
	}
	doc := fmt.Sprintf(`[register]
port = "/dev/ttyUSB0"

[alipay]
endpoint = %q
client_id = %q
private_key_file = %q
alipay_public_key_file = %q
timeout = "10s"
`, srv.URL, srv.ClientID, alipaysim.PrivateKeyFile, alipaysim.PublicKeyFile)
	path := filepath.Join(dir, "posagent.toml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return &fakeAMS{srv: srv, config: path}
}

func TestInquireExitStatusFollowsResultStatus(t *testing.T) {
	f := newFakeAMS(t)
	tests := []struct {
		name   string
		steps  []alipaysim.Step // nil: leave the payment unscripted
		code   int
		stdout []string // lines expected in the readable answer
		stderr string   // part of the one sentence on stderr
	}{
		{
			name:   "S SUCCESS",
			steps:  []alipaysim.Step{alipaysim.Success()},
			code:   exitOK,
			stdout: []string{"resultStatus ", "paymentStatus ", "SUCCESS", "paymentAmount ", "100 USD", "pspName ", "ALIPAY_CN", "responseTime "},
		},
		{
			name:   "S PROCESSING",
			steps:  []alipaysim.Step{alipaysim.Processing(1)},
			code:   exitOK,
			stdout: []string{"PROCESSING", "PAYMENT_IN_PROCESS"},
		},
		{
			name:   "S FAIL",
			steps:  []alipaysim.Step{alipaysim.Fail("USER_BALANCE_NOT_ENOUGH")},
			code:   exitOK,
			stdout: []string{"FAIL", "USER_BALANCE_NOT_ENOUGH"},
		},
		{
			name:   "verified F",
			steps:  []alipaysim.Step{alipaysim.Refuse("ACCESS_DENIED")},
			code:   exitFailure,
			stdout: []string{"resultStatus ", " F", "ACCESS_DENIED"},
			stderr: "Alipay answered F ACCESS_DENIED",
		},
		{
			name:   "unscripted payment",
			code:   exitFailure,
			stdout: []string{"ORDER_NOT_EXIST"},
			stderr: "ORDER_NOT_EXIST",
		},
		{
			name:   "verified U",
			steps:  []alipaysim.Step{alipaysim.Unknown(1)},
			code:   exitFailure,
			stdout: []string{"UNKNOWN_EXCEPTION"},
			stderr: "(unknown)",
		},
		{
			name:   "forged signature",
			steps:  []alipaysim.Step{alipaysim.Forged()},
			code:   exitFailure,
			stderr: "signature does not verify",
		},
		{
			name:   "unsigned answer",
			steps:  []alipaysim.Step{alipaysim.Unsigned()},
			code:   exitFailure,
			stderr: "unsigned",
		},
		{
			name:   "HTTP 500",
			steps:  []alipaysim.Step{alipaysim.HTTP500(1)},
			code:   exitFailure,
			stderr: "HTTP 500",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := fmt.Sprintf("pos-%d", i)
			if tt.steps != nil {
				f.srv.Script(req, alipaysim.Script{Steps: tt.steps})
			}
			r := runArgs(t, "inquire", "-config", f.config, "-request-id", req)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", r.code, tt.code, r.stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
				}
			}
			if len(tt.stdout) == 0 && r.stdout != "" {
				t.Errorf("stdout %q, want nothing for an unverified answer", r.stdout)
			}
			if tt.code == exitOK && r.stderr != "" {
				t.Errorf("stderr %q, want nothing", r.stderr)
			}
			if tt.code != exitOK {
				if !strings.Contains(r.stderr, tt.stderr) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
					t.Errorf("stderr %q, want one line containing %q", r.stderr, tt.stderr)
				}
			}
		})
	}
}

func TestInquireByPaymentIDPrintsJSON(t *testing.T) {
	f := newFakeAMS(t)
	f.srv.Script("pos-json", alipaysim.Script{
		Amount: alipay.Amount{Currency: "EUR", Value: "1250"},
		Steps:  []alipaysim.Step{alipaysim.Success()},
	})
	payID, _ := f.srv.PaymentID("pos-json")
	r := runArgs(t, "inquire", "-config", f.config, "-payment-id", payID, "-json")
	if r.code != exitOK {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var got alipay.InquiryResponse
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	if got.Result.Status != "S" || got.PaymentStatus != alipay.StatusSuccess || got.PaymentID != payID ||
		got.PaymentRequestID != "pos-json" || got.PaymentAmount != (alipay.Amount{Currency: "EUR", Value: "1250"}) {
		t.Errorf("answer = %+v", got)
	}
	calls := f.srv.Calls()
	if len(calls) != 1 {
		t.Fatalf("server saw %d calls, want 1", len(calls))
	}
}

func TestInquireWithoutServerFails(t *testing.T) {
	f := newFakeAMS(t)
	f.srv.Close() // nothing listens at the endpoint any more
	r := runArgs(t, "inquire", "-config", f.config, "-request-id", "pos-1")
	if r.code != exitFailure || !strings.Contains(r.stderr, "no answer from Alipay") || r.stdout != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1 and no answer", r.code, r.stdout, r.stderr)
	}
}

func TestInquireRefusesBadConfiguration(t *testing.T) {
	f := newFakeAMS(t)
	dir := filepath.Dir(f.config)
	badKey := filepath.Join(dir, "bad.toml")
	doc, err := os.ReadFile(f.config)
	if err != nil {
		t.Fatal(err)
	}
	// The public key where the private key belongs.
	swapped := strings.Replace(string(doc), `private_key_file = "`+alipaysim.PrivateKeyFile+`"`, `private_key_file = "`+alipaysim.PublicKeyFile+`"`, 1)
	if err := os.WriteFile(badKey, []byte(swapped), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, config, stderr string
	}{
		{"missing file", filepath.Join(dir, "absent.toml"), "does not exist"},
		{"bad value", filepath.Join("..", "..", "config", "testdata", "bad.toml"), "bad.toml:19: polling.interval:"},
		{"bad key file", badKey, "alipay.private_key_file: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runArgs(t, "inquire", "-config", tt.config, "-request-id", "pos-1")
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, tt.stderr)
			}
		})
	}
	if n := len(f.srv.Calls()); n != 0 {
		t.Errorf("server saw %d calls, want none", n)
	}
}

func TestInquireReadsConfigFromEnvironment(t *testing.T) {
	f := newFakeAMS(t)
	f.srv.Script("pos-env", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	t.Setenv(config.Env, f.config)
	if r := runArgs(t, "inquire", "-request-id", "pos-env"); r.code != exitOK {
		t.Errorf("with %s: exit %d, stderr %q", config.Env, r.code, r.stderr)
	}
	// The flag wins over the environment.
	t.Setenv(config.Env, filepath.Join(t.TempDir(), "absent.toml"))
	if r := runArgs(t, "inquire", "-config", f.config, "-request-id", "pos-env"); r.code != exitOK {
		t.Errorf("-config over a bad %s: exit %d, stderr %q", config.Env, r.code, r.stderr)
	}
	if r := runArgs(t, "inquire", "-request-id", "pos-env"); r.code != exitUsage || !strings.Contains(r.stderr, "absent.toml") {
		t.Errorf("bad %s: exit %d, stderr %q", config.Env, r.code, r.stderr)
	}
}

func TestBinaryInquireExitStatus(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t, "test")
	f := newFakeAMS(t)
	f.srv.Script("pos-ok", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	f.srv.Script("pos-u", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Unknown(1)}})
	env := []string{config.Env + "=" + f.config}
	tests := []struct {
		req  string
		code int
	}{
		{"pos-ok", exitOK},
		{"pos-u", exitFailure},
	}
	for _, tt := range tests {
		if r := runBinary(t, bin, env, "inquire", "-request-id", tt.req); r.code != tt.code {
			t.Errorf("inquire %s: exit %d, want %d; stderr %q", tt.req, r.code, tt.code, r.stderr)
		}
	}
}
