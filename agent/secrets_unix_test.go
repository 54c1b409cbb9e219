//go:build unix

package agent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/posagent/posagent/agent/service"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/alipay/alipaytest"
	"github.com/posagent/posagent/config"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/internal/postest"
	"github.com/posagent/posagent/queue"
)

// syncBuffer is a log sink written from the agent's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// signatureTap is a reverse proxy between the agent and the fake AMS server
// that keeps every Signature header value going either way.
type signatureTap struct {
	mu   sync.Mutex
	sigs []string
}

func (s *signatureTap) keep(v string) {
	if v == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sigs = append(s.sigs, v)
}

func (s *signatureTap) values() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sigs...)
}

func newSignatureTap(t *testing.T, target string) (*signatureTap, string) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	tap := &signatureTap{}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			tap.keep(pr.In.Header.Get("Signature"))
		},
		ModifyResponse: func(resp *http.Response) error {
			tap.keep(resp.Header.Get("Signature"))
			return nil
		},
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return tap, srv.URL
}

// freeAddr returns host with a port nothing listens on at the moment.
func freeAddr(t *testing.T, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return net.JoinHostPort(host, port)
}

// secretWindow is the length of the pieces of a secret searched for in the
// log: long enough that no honest log text holds one by chance (24 base64
// characters are 144 bits), short enough to catch a secret cut up.
const secretWindow = 24

// secretPieces maps every secretWindow-long piece of each named secret (the
// whole secret when shorter) to the secret's name.
func secretPieces(secrets map[string]string) map[string]string {
	pieces := map[string]string{}
	for name, s := range secrets {
		if len(s) <= secretWindow {
			pieces[s] = name
			continue
		}
		for i := 0; i+secretWindow <= len(s); i++ {
			pieces[s[i:i+secretWindow]] = name
		}
	}
	return pieces
}

// TestLogsHoldNoSecrets runs `posagent run`'s Serve at debug level through
// payments of many kinds (success, failure, a cashier's cancel taken and
// one refused, unknown, unsigned and forged answers) with the status endpoint open to
// other hosts, asks that endpoint with, without and with a wrong token, and
// then reads every log line for the merchant private key, any Signature
// header value sent or received, and the status token. None may appear.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tap, endpoint := newSignatureTap(t, r.srv.URL)
	dir := t.TempDir()
	privPath, pubPath, err := r.srv.WriteKeyFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var raw [32]byte
	rand.Read(raw[:])
	token := hex.EncodeToString(raw[:])
	postest.WriteFile(t, filepath.Join(dir, "status.token"), token+"\n")
	listen := freeAddr(t, "0.0.0.0")
	path := filepath.Join(dir, "posagent.toml")
	postest.WriteFile(t, path, fmt.Sprintf(`[register]
port = %q
[alipay]
endpoint = %q
client_id = %q
private_key_file = %q
alipay_public_key_file = %q
[polling]
interval = "1s"
[storage]
path = "posagent.db"
[log]
level = "debug"
[status]
listen = %q
allow_remote = true
`, r.slave, endpoint, r.srv.ClientID, privPath, pubPath, listen))
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	log, err := service.NewLogger(&logs, cfg.Log.Level, false)
	if err != nil {
		t.Fatal(err)
	}
	payments := []struct {
		req    string
		script *alipaysim.Script // nil: Alipay never hears of it
		cancel bool              // the cashier cancels it
		status string
	}{
		{req: "pos-success", script: &alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Processing(1), alipaysim.Success()}}, status: "SUCCESS"},
		{req: "pos-fail", script: &alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Fail("USER_BALANCE_NOT_ENOUGH")}}, status: "FAIL"},
		{req: "pos-odd-answers", script: &alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Unknown(1), alipaysim.HTTP500(1), alipaysim.Unsigned(), alipaysim.Forged(), alipaysim.Success()}}, status: "SUCCESS"},
		{req: "pos-cashier", script: &alipaysim.Script{}, cancel: true, status: "CANCELLED"},
		{req: "pos-cancel-refused", script: &alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Processing(1), alipaysim.Success()}, Cancel: []alipaysim.Step{alipaysim.Refuse("ORDER_IS_CLOSED")}}, cancel: true, status: "SUCCESS"},
	}
	for _, p := range payments {
		if p.script != nil {
			r.srv.Script(p.req, *p.script)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, log, "test") }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(postest.Guard):
			t.Fatal("Serve did not return after its context ended")
		}
	}
	defer stop()

	for _, p := range payments {
		if st := r.pay(p.req, 100, 0); st.State != "ACCEPTED" {
			t.Fatalf("PAY %s answered %+v", p.req, st)
		}
		if p.cancel {
			r.reg.request(device.Cancel{Req: p.req})
		}
	}
	for _, p := range payments {
		if res := r.reg.result(p.req); res.Status != p.status {
			t.Errorf("RESULT for %s = %+v, want %s", p.req, res, p.status)
		}
	}

	// The status endpoint, as head office and `posagent queue` reach it.
	_, port, _ := net.SplitHostPort(listen)
	base := "http://" + net.JoinHostPort("127.0.0.1", port)
	for _, tt := range []struct {
		auth string
		code int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer " + strings.Repeat("0", len(token)), http.StatusUnauthorized},
		{"Bearer " + token, http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/payments", nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("GET /api/payments with %q = %d, want %d", tt.auth, resp.StatusCode, tt.code)
		}
	}
	client, err := cfg.StatusEndpoint().Client()
	if err != nil {
		t.Fatal(err)
	}
	qctx, qcancel := context.WithTimeout(context.Background(), postest.Guard)
	defer qcancel()
	if ps, err := client.List(qctx, queue.Filter{}); err != nil || len(ps) != len(payments) {
		t.Errorf("the CLI's status client listed %d payments, %v; want %d", len(ps), err, len(payments))
	}
	stop()

	// What must never be logged.
	keyPEM, err := os.ReadFile(privPath)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		t.Fatal("the private key file is not PEM")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey := r.srv.MerchantKey
	if !rsaKey.Equal(key) {
		t.Fatal("the key file does not hold the server's merchant key")
	}
	secrets := map[string]string{
		"the private key's PEM":              string(keyPEM),
		"the private key's base64 DER":       base64.StdEncoding.EncodeToString(block.Bytes),
		"the private key's base64url DER":    base64.RawURLEncoding.EncodeToString(block.Bytes),
		"the private key's hex DER":          hex.EncodeToString(block.Bytes),
		"the private exponent in decimal":    rsaKey.D.String(),
		"the private exponent in hex":        rsaKey.D.Text(16),
		"the status token":                   token,
		"the status token's Bearer header":   "Bearer " + token,
		"the first prime of the private key": rsaKey.Primes[0].String(),
	}
	sigs := tap.values()
	if len(sigs) < 2*len(payments) {
		t.Fatalf("only %d Signature headers went through the tap; the flow did not run", len(sigs))
	}
	for i, v := range sigs {
		secrets[fmt.Sprintf("Signature header %d", i)] = v
		_, value, _ := strings.Cut(v, "signature=")
		if plain, err := url.QueryUnescape(value); err == nil {
			secrets[fmt.Sprintf("signature %d", i)] = plain
		}
	}
	// PEM lines are 64 characters, shorter than the DER's base64 but each
	// longer than secretWindow, so the windows of the base64 DER cover
	// every line of the PEM body.
	pieces := secretPieces(secrets)

	out := logs.String()
	lines, debugLines := 0, 0
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		lines++
		if strings.Contains(line, `"level":"debug"`) {
			debugLines++
		}
		for i := 0; i+secretWindow <= len(line); i++ {
			if name, ok := pieces[line[i:i+secretWindow]]; ok {
				t.Errorf("log line %d holds part of %s: %s", lines, name, line)
				break
			}
		}
		for s, name := range pieces {
			if len(s) < secretWindow && strings.Contains(line, s) {
				t.Errorf("log line %d holds %s: %s", lines, name, line)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if debugLines == 0 {
		t.Fatalf("no debug line among %d log lines; the log did not run at debug level:\n%s", lines, out)
	}
	t.Logf("%d log lines (%d at debug), %d Signature headers and %d secret pieces checked", lines, debugLines, len(sigs), len(pieces))
}

// TestServeRefusesARemoteListenerWithoutAUsableToken checks the start of
// `posagent run` with status.allow_remote and a listener other hosts can
// reach: a token file that is missing, unreadable, empty or too short is a
// configuration error naming status.token_file, and nothing listens.
func TestServeRefusesARemoteListenerWithoutAUsableToken(t *testing.T) {
	tests := []struct {
		name    string
		content *string // nil: no file
		mode    os.FileMode
		want    string
	}{
		{name: "missing", want: "does not exist"},
		{name: "empty", content: new(""), mode: 0o600, want: "is empty"},
		{name: "too short", content: new("0123456789abcdef"), mode: 0o600, want: "16 characters, too short"},
		{name: "unreadable", content: new(postest.Token), mode: 0o000, want: "cannot be read"},
	}
	srv := alipaytest.NewServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mode == 0 && tt.content != nil && os.Geteuid() == 0 {
				t.Skip("root reads a file of any mode")
			}
			dir := t.TempDir()
			priv, pub, err := srv.WriteKeyFiles(dir)
			if err != nil {
				t.Fatal(err)
			}
			tokenPath := filepath.Join(dir, "status.token")
			if tt.content != nil {
				if err := os.WriteFile(tokenPath, []byte(*tt.content), tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			listen := freeAddr(t, "0.0.0.0")
			path := filepath.Join(dir, "posagent.toml")
			postest.WriteConfig(t, path, filepath.Join(dir, "ttyUSB0"), srv, priv, pub, fmt.Sprintf(`[storage]
path = "posagent.db"
[status]
listen = %q
allow_remote = true
`, listen))
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			err = Serve(context.Background(), cfg, zerolog.Nop(), "test")
			var ce *config.Error
			if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Key != "status.token_file" ||
				!strings.Contains(err.Error(), tokenPath) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Serve = %v, want one *config.Error problem with status.token_file saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), postest.Token) {
				t.Errorf("the error shows the token: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "posagent.db")); err == nil {
				t.Error("the store was opened before the token was checked")
			}
		})
	}
}

// TestServeWarnsOfAPrivateKeyOthersCanRead checks the warning `posagent run`
// logs at start, before it carries on as usual.
func TestServeWarnsOfAPrivateKeyOthersCanRead(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	dir := t.TempDir()
	priv, pub, err := r.srv.WriteKeyFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(priv, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "posagent.toml")
	postest.WriteConfig(t, path, r.slave, r.srv, priv, pub, "[storage]\npath = \"posagent.db\"\n[status]\nlisten = \"\"\n")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	log, err := service.NewLogger(&logs, "info", false)
	if err != nil {
		t.Fatal(err)
	}
	r.srv.Script("pos-1", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, log, "test") }()
	if st := r.pay("pos-1", 100, 0); st.State != "ACCEPTED" {
		t.Fatalf("PAY answered %+v; the agent must run all the same", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	want := fmt.Sprintf("the merchant private key file %s can be read by other users (its mode 0644 gives every user access)", priv)
	for _, e := range postest.JSONLines(t, []byte(logs.String())) {
		if e["level"] == "warn" && strings.HasPrefix(fmt.Sprint(e["message"]), want) {
			return
		}
	}
	t.Errorf("log lacks the warning %q\nlog:\n%s", want, logs.String())
}
