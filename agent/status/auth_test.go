package status

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/queue"
)

// testToken is a token of the kind the packages write: 64 hex digits.
const testToken = "5f0c8e4a9b2d7e13c6a1f0b8d4e29c7a3b5d6e8f01a2c4e6b8d0f2a4c6e8b0d2"

// tokenServer is the fixture's server demanding testToken.
func (f *fixture) tokenServer() *Server {
	return NewServer(Options{
		Source:   SourceFunc(func() Snapshot { return f.snap }),
		Payments: f.store,
		Calls:    f.calls,
		Token:    testToken,
	})
}

func TestTokenGateDemandsTheBearerTokenButForHealthz(t *testing.T) {
	f := newFixture(t)
	h := f.tokenServer()
	tests := []struct {
		name, path, auth string
		code             int
		challenge        string // WWW-Authenticate of a 401
	}{
		{"healthz needs no token", "/healthz", "", http.StatusOK, ""},
		{"healthz with a wrong token still answers", "/healthz", "Bearer nope", http.StatusOK, ""},
		{"page without token", "/", "", http.StatusUnauthorized, `Bearer realm="posagent"`},
		{"css without token", "/page.css", "", http.StatusUnauthorized, `Bearer realm="posagent"`},
		{"metrics without token", "/metrics", "", http.StatusUnauthorized, `Bearer realm="posagent"`},
		{"status without token", "/api/status", "", http.StatusUnauthorized, `Bearer realm="posagent"`},
		{"payments without token", "/api/payments", "", http.StatusUnauthorized, `Bearer realm="posagent"`},
		{"one payment without token", "/api/payments/pos-pending-1", "", http.StatusUnauthorized, `Bearer realm="posagent"`},
		{"an unknown path without token", "/nothing", "", http.StatusUnauthorized, `Bearer realm="posagent"`},
		{"healthz spelt otherwise is not exempt", "//healthz", "", http.StatusUnauthorized, `Bearer realm="posagent"`},
		{"wrong token", "/api/payments", "Bearer " + strings.Repeat("0", len(testToken)), http.StatusUnauthorized, `Bearer realm="posagent", error="invalid_token"`},
		{"token cut short", "/api/payments", "Bearer " + testToken[:len(testToken)-1], http.StatusUnauthorized, `Bearer realm="posagent", error="invalid_token"`},
		{"token with more after it", "/api/payments", "Bearer " + testToken + "0", http.StatusUnauthorized, `Bearer realm="posagent", error="invalid_token"`},
		{"token of another scheme", "/api/payments", "Basic " + testToken, http.StatusUnauthorized, `Bearer realm="posagent"`},
		{"token without a scheme", "/api/payments", testToken, http.StatusUnauthorized, `Bearer realm="posagent"`},
		{"empty bearer", "/api/payments", "Bearer ", http.StatusUnauthorized, `Bearer realm="posagent"`},
		{"right token", "/api/payments", "Bearer " + testToken, http.StatusOK, ""},
		{"right token, scheme in lower case", "/api/status", "bearer " + testToken, http.StatusOK, ""},
		{"right token on the page", "/", "Bearer " + testToken, http.StatusOK, ""},
		{"right token on the metrics", "/metrics", "Bearer " + testToken, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "http://pos1.example:8765"+tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			h.ServeHTTP(rec, req)
			if rec.Code != tt.code {
				t.Fatalf("GET %s with %q = %d, want %d", tt.path, tt.auth, rec.Code, tt.code)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
			if tt.code == http.StatusUnauthorized && strings.Contains(rec.Body.String(), "pos-") {
				t.Errorf("401 body shows a payment: %s", rec.Body.String())
			}
		})
	}
}

func TestServerWithoutTokenIgnoresAGivenOne(t *testing.T) {
	h := newFixture(t).server()
	for _, auth := range []string{"", "Bearer " + testToken, "Bearer wrong"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/api/payments", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("loopback server with Authorization %q answered %d, want 200", auth, rec.Code)
		}
	}
}

func TestNeedsToken(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8765", false},
		{"127.0.0.2:8765", false},
		{"[::1]:8765", false},
		{"localhost:8765", false},
		{"LOCALHOST:8765", false},
		{"0.0.0.0:8765", true},
		{"[::]:8765", true},
		{":8765", true},
		{"192.168.1.10:8765", true},
		{"pos1.local:8765", true},
		{"not an address", true},
	}
	for _, tt := range tests {
		if got := NeedsToken(tt.addr); got != tt.want {
			t.Errorf("NeedsToken(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

func TestReadToken(t *testing.T) {
	tests := []struct {
		name    string
		content *string // nil: no file
		want    string
		wantErr string
	}{
		{name: "missing", wantErr: "does not exist"},
		{name: "empty", content: ptr(""), wantErr: "is empty"},
		{name: "blank lines only", content: ptr("\n \r\n"), wantErr: "is empty"},
		{name: "too short", content: ptr(strings.Repeat("a", MinTokenLength-1)), wantErr: "31 characters, too short"},
		{name: "two tokens", content: ptr(testToken + " " + testToken), wantErr: "blanks, line breaks"},
		{name: "control character", content: ptr(testToken + "\x00"), wantErr: "blanks, line breaks"},
		{name: "not ASCII", content: ptr(testToken + "é"), wantErr: "visible ASCII"},
		{name: "too long for a token file", content: ptr(strings.Repeat("a", maxTokenFile+1)), wantErr: "longer than 4096 bytes"},
		{name: "shortest allowed", content: ptr(strings.Repeat("a", MinTokenLength)), want: strings.Repeat("a", MinTokenLength)},
		{name: "with a line end", content: ptr(testToken + "\n"), want: testToken},
		{name: "with a Windows line end and blanks", content: ptr("  " + testToken + "\r\n"), want: testToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "status.token")
			if tt.content != nil {
				if err := os.WriteFile(path, []byte(*tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ReadToken(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("ReadToken = %q, %v; want an error naming the file and saying %q", got, err, tt.wantErr)
				}
				if tt.content == nil && !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("error %v does not wrap fs.ErrNotExist", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ReadToken = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestReadTokenSaysAnUnreadableFileCannotBeRead(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("needs Unix permissions that bind the user (not root)")
	}
	path := filepath.Join(t.TempDir(), "status.token")
	if err := os.WriteFile(path, []byte(testToken), 0o000); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadToken(path); err == nil || !strings.Contains(err.Error(), "cannot be read") {
		t.Fatalf("ReadToken of a mode 000 file = %v, want it cannot be read", err)
	}
}

func ptr(s string) *string { return &s }

// serveToken serves the fixture demanding testToken on a loopback port and
// returns the address.
func serveToken(t *testing.T, f *fixture) string {
	t.Helper()
	ln, err := Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Serve(ctx, ln, f.tokenServer()); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func TestClientSendsTheToken(t *testing.T) {
	f := newFixture(t)
	addr := serveToken(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ps, err := NewClient(addr, testToken).List(ctx, queue.Filter{})
	if err != nil || len(ps) == 0 {
		t.Fatalf("List with the token = %d payments, %v; want them all", len(ps), err)
	}
	_, err = NewClient(addr, "").Status(ctx)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "status.token_file") {
		t.Errorf("Status without the token = %v, want a 401 naming status.token_file", err)
	}
}

func TestEndpointReadsTheTokenOnlyForAListenerOthersCanReach(t *testing.T) {
	unreadable := errors.New("permission denied")
	tests := []struct {
		listen    string
		wantCalls int
		wantErr   string
	}{
		{"127.0.0.1:8765", 0, ""},
		{"localhost:8765", 0, ""},
		{"0.0.0.0:8765", 1, "needs the token of status.token_file"},
		{"", 0, "status.listen is empty"},
	}
	for _, tt := range tests {
		calls := 0
		ep := Endpoint{Listen: tt.listen, Token: func() (string, error) { calls++; return "", unreadable }}
		_, err := ep.Client()
		if calls != tt.wantCalls {
			t.Errorf("Endpoint{%q}.Client read the token %d times, want %d", tt.listen, calls, tt.wantCalls)
		}
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("Endpoint{%q}.Client = %v, want a client", tt.listen, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("Endpoint{%q}.Client = %v, want an error saying %q", tt.listen, err, tt.wantErr)
		}
	}
}

func TestOpenReaderSendsTheTokenToAListenerOthersCanReach(t *testing.T) {
	f := newFixture(t) // holds the store, as a running agent does
	ln, err := Listen("0.0.0.0:0", true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Serve(ctx, ln, f.tokenServer()); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	addr := ln.Addr().String()

	tests := []struct {
		name    string
		token   func() (string, error)
		wantErr string
	}{
		{"with the token", func() (string, error) { return testToken, nil }, ""},
		{"with another token", func() (string, error) { return strings.Repeat("x", MinTokenLength), nil }, "401 Unauthorized"},
		{"without a token file", func() (string, error) { return ReadToken(filepath.Join(t.TempDir(), "none")) }, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := OpenReader(f.store.Path(), Endpoint{Listen: addr, Token: tt.token}, 50*time.Millisecond)
			if err == nil {
				defer r.Close()
				var ps []queue.Payment
				ps, err = r.List(context.Background(), queue.Filter{})
				if err == nil && len(ps) == 0 {
					t.Fatal("List through the endpoint gave no payment")
				}
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("reading through %s: %v", addr, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("reading through %s = %v, want an error saying %q", addr, err, tt.wantErr)
			}
		})
	}
}
