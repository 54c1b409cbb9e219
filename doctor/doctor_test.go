package doctor

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/alipay/alipaytest"
	"github.com/posagent/posagent/config"
	"github.com/posagent/posagent/internal/postest"
	"github.com/posagent/posagent/queue"
)

// doctorSetup is a terminal as a technician finds it: a configuration
// file, key files, a store and a serial port, all in a temporary folder, and
// a fake Alipay behind the endpoint.
type doctorSetup struct {
	dir      string
	srv      *alipaysim.Server
	cfgPath  string
	port     string // the register port: a pty's terminal side
	endpoint string
	clientID string
	store    string
	listen   string // status.listen; empty (the endpoint off) unless a test runs one
	// allowRemote is written as status.allow_remote.
	allowRemote bool
	// cancelAfter, when not empty, is written as polling.cancel_after.
	cancelAfter string
}

func newDoctorSetup(t *testing.T, opts ...alipaysim.Option) *doctorSetup {
	t.Helper()
	srv := alipaytest.NewServer(t, opts...)
	dir := t.TempDir()
	if _, _, err := srv.WriteKeyFiles(dir); err != nil {
		t.Fatal(err)
	}
	s := &doctorSetup{
		dir:      dir,
		srv:      srv,
		cfgPath:  filepath.Join(dir, "posagent.toml"),
		port:     postest.PTY(t).Path,
		endpoint: srv.URL,
		clientID: srv.ClientID,
		store:    filepath.Join(dir, "posagent.db"),
	}
	st, err := queue.Open(s.store, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	return s
}

// write writes the configuration file for the current fields.
func (s *doctorSetup) write(t *testing.T) {
	t.Helper()
	cfg := fmt.Sprintf(`[register]
port = %q

[alipay]
endpoint = %q
client_id = %q
private_key_file = "merchant_private_key.pem"
alipay_public_key_file = "alipay_public_key.pem"
timeout = "5s"

[storage]
path = %q

[status]
listen = %q
allow_remote = %v
`, s.port, s.endpoint, s.clientID, s.store, s.listen, s.allowRemote)
	if s.cancelAfter != "" {
		cfg += fmt.Sprintf("\n[polling]\ncancel_after = %q\n", s.cancelAfter)
	}
	if err := os.WriteFile(s.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// run runs Doctor and returns its result and its lines by check name.
func (s *doctorSetup) run(t *testing.T, now func() time.Time) (bool, map[string]string, string) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ok := Run(ctx, s.cfgPath, &out, Options{Now: now}) == nil
	lines := map[string]string{}
	for _, l := range strings.Split(out.String(), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && (f[0] == "OK" || f[0] == "WARN" || f[0] == "FAIL" || f[0] == "SKIP") {
			lines[f[1]] = l
		}
	}
	return ok, lines, out.String()
}

func writePublicKeyPEM(t *testing.T, path string, pub any) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestDoctor(t *testing.T) {
	t.Parallel()
	type want struct {
		level, text string
	}
	tests := []struct {
		name    string
		server  []alipaysim.Option
		setup   func(t *testing.T, s *doctorSetup)
		skew    time.Duration // the fake Alipay's clock against the terminal's
		wantOK  bool
		want    map[string]want // lines not listed must be as in unlisted
		wantSee []string        // further text in the output
	}{
		{
			name:   "all OK",
			wantOK: true,
			want:   map[string]want{},
		},
		{
			name: "private key does not match the one Alipay has",
			setup: func(t *testing.T, s *doctorSetup) {
				copyFile(t, "testdata/other_private_key.pem", filepath.Join(s.dir, alipaysim.PrivateKeyFile))
			},
			wantOK: false,
			want:   map[string]want{"inquiry": {"FAIL", "INVALID_SIGNATURE"}},
		},
		{
			name: "Alipay public key file holds the merchant's own public key",
			setup: func(t *testing.T, s *doctorSetup) {
				writePublicKeyPEM(t, filepath.Join(s.dir, alipaysim.PublicKeyFile), &s.srv.MerchantKey.PublicKey)
			},
			wantOK: false,
			want: map[string]want{
				"keys":    {"FAIL", "merchant's own public key"},
				"inquiry": {"SKIP", "key files"},
				"payment": {"SKIP", "key files"},
			},
		},
		{
			name: "Alipay public key file holds another key",
			setup: func(t *testing.T, s *doctorSetup) {
				key, err := alipay.LoadPrivateKey("testdata/other_private_key.pem")
				if err != nil {
					t.Fatal(err)
				}
				writePublicKeyPEM(t, filepath.Join(s.dir, alipaysim.PublicKeyFile), &key.PublicKey)
			},
			wantOK: false,
			want:   map[string]want{"inquiry": {"FAIL", "does not verify with the key in alipay.alipay_public_key_file"}},
		},
		{
			name:   "private key file missing",
			setup:  func(t *testing.T, s *doctorSetup) { os.Remove(filepath.Join(s.dir, alipaysim.PrivateKeyFile)) },
			wantOK: false,
			want: map[string]want{
				"keys":    {"FAIL", "alipay.private_key_file"},
				"inquiry": {"SKIP", "key files"},
				"payment": {"SKIP", "key files"},
			},
		},
		{
			name: "private key file readable by every user",
			setup: func(t *testing.T, s *doctorSetup) {
				if runtime.GOOS == "windows" {
					t.Skip("file modes do not grant access on Windows; keyperm_windows_test.go covers its ACLs")
				}
				if err := os.Chmod(filepath.Join(s.dir, alipaysim.PrivateKeyFile), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantOK: false,
			// The key still works: the checks that use it run.
			want: map[string]want{"keys": {"FAIL", "can be read by other users (its mode 0644 gives every user access); whoever reads it can sign payments as the merchant, so restrict it: chown root:posagent"}},
		},
		{
			name:   "wrong client id",
			setup:  func(t *testing.T, s *doctorSetup) { s.clientID = "TEST_2188000000009999" },
			wantOK: false,
			want:   map[string]want{"inquiry": {"FAIL", "CLIENT_INVALID"}},
		},
		{
			name:   "unreachable endpoint",
			setup:  func(t *testing.T, s *doctorSetup) { s.endpoint = "http://" + closedPort(t) },
			wantOK: false,
			want: map[string]want{
				"network": {"FAIL", "cannot connect"},
				"inquiry": {"SKIP", "reachable"},
				"payment": {"SKIP", "reachable"},
				"clock":   {"SKIP", "no Date"},
			},
		},
		{
			name:   "missing port",
			setup:  func(t *testing.T, s *doctorSetup) { s.port = filepath.Join(s.dir, "ttyUSB9") },
			wantOK: false,
			want:   map[string]want{"port": {"FAIL", "ttyUSB9"}},
		},
		{
			name:   "store salvaged from a damaged file",
			setup:  func(t *testing.T, s *doctorSetup) { salvageStore(t, s.store) },
			wantOK: true,
			want:   map[string]want{"store": {"WARN", "it was salvaged from a damaged file (reports: 1)"}},
			wantSee: []string{
				"pos-damaged (record", // named as lost
				"posagent.db.corrupt-",
			},
		},
		{
			name:   "store held by a running agent, port left alone",
			setup:  func(t *testing.T, s *doctorSetup) { holdStore(t, s.store) },
			wantOK: true,
			want: map[string]want{
				"agent":   {"SKIP", "status.listen is empty"},
				"payment": {"SKIP", "status.listen is empty"},
			},
			wantSee: []string{
				"in use by a running posagent",
				"held by the running posagent",
			},
		},
		{
			name:    "cancel_after that can reach past Alipay's cancel window",
			setup:   func(t *testing.T, s *doctorSetup) { s.cancelAfter = "20m" },
			wantOK:  true,
			want:    map[string]want{"config": {"WARN", "with warnings"}},
			wantSee: []string{"polling.cancel_after: 20m can reach past Alipay's cancel window"},
		},
		{
			name:   "clock two minutes behind",
			skew:   2 * time.Minute,
			wantOK: true,
			want:   map[string]want{"clock": {"WARN", "behind Alipay"}},
		},
		{
			name:   "clock ten minutes ahead",
			server: []alipaysim.Option{alipaysim.WithRequestTimeTolerance(5 * time.Minute)},
			skew:   -10 * time.Minute,
			wantOK: false,
			want: map[string]want{
				"clock":   {"FAIL", "ahead of Alipay"},
				"inquiry": {"FAIL", "INVALID_SIGNATURE"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newDoctorSetup(t, tt.server...)
			if tt.setup != nil {
				tt.setup(t, s)
			}
			s.write(t)
			s.srv.SetClockSkew(tt.skew)
			ok, lines, out := s.run(t, time.Now)
			if ok != tt.wantOK {
				t.Errorf("Doctor = %v, want %v", ok, tt.wantOK)
			}
			// No agent runs and the store holds no payment unless a case
			// says otherwise.
			unlisted := map[string]want{
				"agent":   {"SKIP", "no running posagent"},
				"payment": {"SKIP", "no payment was accepted in the last 24 hours"},
			}
			for _, check := range []string{"config", "keys", "store", "agent", "port", "network", "inquiry", "payment", "clock"} {
				line, found := lines[check]
				w, listed := tt.want[check]
				if !listed {
					w, listed = unlisted[check]
				}
				if !listed {
					w = want{"OK", ""}
				}
				if !found {
					t.Errorf("no %s line", check)
					continue
				}
				if !strings.HasPrefix(line, w.level+" ") || !strings.Contains(line, w.text) {
					t.Errorf("%s line = %q, want %s with %q", check, line, w.level, w.text)
				}
			}
			for _, see := range tt.wantSee {
				if !strings.Contains(out, see) {
					t.Errorf("output lacks %q", see)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}

// holdStore opens the store as a running agent would, holding its lock for
// the rest of the test.
func holdStore(t *testing.T, path string) {
	t.Helper()
	st, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
}

func TestDoctorStopsAtABadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "posagent.toml")
	if err := os.WriteFile(path, []byte("[register]\nbaud = \"fast\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := Run(context.Background(), path, &out, Options{})
	if _, ok := errors.AsType[*config.Error](err); !ok {
		t.Errorf("Doctor = %v for a bad configuration, want its *config.Error", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.HasPrefix(lines[0], "FAIL  config") || !strings.Contains(out.String(), "register.baud") {
		t.Errorf("first line = %q, want a config FAIL naming register.baud; output:\n%s", lines[0], out.String())
	}
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "OK") || strings.HasPrefix(l, "WARN") {
			t.Errorf("check ran after a bad config: %q", l)
		}
	}
}

func TestDoctorChecksTLSToAnHTTPSEndpoint(t *testing.T) {
	s := newDoctorSetup(t)
	ts := httptest.NewUnstartedServer(s.srv)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	ts.StartTLS()
	t.Cleanup(ts.Close)
	s.endpoint = ts.URL
	s.write(t)
	trusted := x509.NewCertPool()
	trusted.AddCert(ts.Certificate())

	tests := []struct {
		name    string
		roots   *x509.CertPool
		wantOK  bool
		wantTLS string
	}{
		{"trusted certificate", trusted, true, "OK    tls"},
		{"untrusted certificate", x509.NewCertPool(), false, "FAIL  tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Run(context.Background(), s.cfgPath, &out, Options{RootCAs: tt.roots})
			if err != nil && !errors.Is(err, ErrChecksFailed) {
				t.Fatalf("Doctor = %v, want nil or ErrChecksFailed", err)
			}
			ok := err == nil
			if ok != tt.wantOK || !strings.Contains(out.String(), tt.wantTLS) {
				t.Errorf("Doctor = %v, want %v with a line %q; output:\n%s", ok, tt.wantOK, tt.wantTLS, out.String())
			}
			if tt.wantOK && !strings.Contains(out.String(), "OK    inquiry") {
				t.Errorf("inquiry over TLS not OK; output:\n%s", out.String())
			}
		})
	}
}

// salvageStore damages the record of a payment in the store at path and
// opens it, which salvages it.
func salvageStore(t *testing.T, path string) {
	t.Helper()
	st, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, _, err := st.Accept(queue.Payment{RequestID: "pos-damaged", Amount: 100, Currency: "USD", AcceptedAt: now, Deadline: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Every copy of the record: the commits after it (the mark of a clean
	// stop among them) may have left an older copy on a free page.
	rec := []byte(`{"req":"pos-damaged"`)
	if !bytes.Contains(data, rec) {
		t.Fatal("the record is not in the file")
	}
	for at := 0; ; at++ {
		i := bytes.Index(data[at:], rec)
		if i < 0 {
			break
		}
		at += i
		data[at+25] ^= 0x01
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err = queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Report() == nil {
		t.Fatal("the damaged store was not salvaged")
	}
	st.Close()
}
