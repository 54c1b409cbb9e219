package alipaysim

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/posagent/posagent/alipay"
)

// The fixed throwaway key pairs a Server uses unless WithKeys gives others.
// They protect nothing: anyone can read them here.
var (
	//go:embed testdata/merchant_private_key.pem
	merchantKeyPEM string
	//go:embed testdata/alipay_private_key.pem
	alipayKeyPEM string
)

// DefaultClientID is the client id a Server expects unless WithClientID
// gives another.
const DefaultClientID = "TEST_2188000000000001"

// Server is a fake AMS server listening on a loopback port. It checks each
// request's path, client id, key version and signature as AMS does, plays
// the Script of the payment asked about, signs its answers with its own
// Alipay key, and records every call. Its methods are safe for concurrent
// use; the fields are set by NewServer and must not be changed.
type Server struct {
	URL             string          // base URL, e.g. http://127.0.0.1:40123, the client's endpoint
	ClientID        string          // the client id requests must carry
	MerchantKey     *rsa.PrivateKey // the merchant key requests must be signed with
	AlipayPublicKey *rsa.PublicKey  // verifies the server's answers

	alipayKey  *rsa.PrivateKey
	keyVersion int
	tolerance  time.Duration
	now        func() time.Time

	http      *http.Server
	done      chan struct{} // closed by Close; aborts slow answers
	closeOnce sync.Once

	mu          sync.Mutex
	payments    map[string]*payment // by paymentRequestId
	byPaymentID map[string]*payment
	calls       []Call
	changed     chan struct{} // closed and replaced when a call is recorded
	skew        time.Duration
	nextID      int
}

// Option adjusts a Server made by NewServer.
type Option func(*Server)

// WithClientID makes the server expect id; an id starting with SANDBOX_
// makes it serve the sandbox paths instead of the live ones.
func WithClientID(id string) Option { return func(s *Server) { s.ClientID = id } }

// WithKeys makes the server expect requests signed with merchant and sign
// its answers with alipay, instead of the built-in throwaway keys.
func WithKeys(merchant, alipay *rsa.PrivateKey) Option {
	return func(s *Server) { s.MerchantKey, s.alipayKey = merchant, alipay }
}

// WithKeyVersion makes the server accept only requests whose Signature names
// key version n (1 by default); others get F KEY_NOT_FOUND.
func WithKeyVersion(n int) Option { return func(s *Server) { s.keyVersion = n } }

// WithRequestTimeTolerance makes the server answer F INVALID_SIGNATURE to a
// request whose Request-Time is further than d from its clock (including
// any skew), as AMS does for a terminal whose clock is off. Zero, the
// default, accepts any Request-Time.
func WithRequestTimeTolerance(d time.Duration) Option {
	return func(s *Server) { s.tolerance = d }
}

// WithClock makes the server read the time from now instead of time.Now.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// NewServer starts a fake AMS server on a loopback port. Like
// httptest.NewServer it panics when it cannot listen. Close stops it.
func NewServer(opts ...Option) *Server {
	s := &Server{
		ClientID:    DefaultClientID,
		keyVersion:  alipay.DefaultKeyVersion,
		now:         time.Now,
		done:        make(chan struct{}),
		payments:    make(map[string]*payment),
		byPaymentID: make(map[string]*payment),
		changed:     make(chan struct{}),
	}
	for _, opt := range opts {
		opt(s)
	}
	if s.MerchantKey == nil {
		s.MerchantKey = mustParseKey(merchantKeyPEM)
	}
	if s.alipayKey == nil {
		s.alipayKey = mustParseKey(alipayKeyPEM)
	}
	s.AlipayPublicKey = &s.alipayKey.PublicKey

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if l, err = net.Listen("tcp6", "[::1]:0"); err != nil {
			panic(fmt.Sprintf("alipaysim: cannot listen on a loopback port: %v", err))
		}
	}
	s.URL = "http://" + l.Addr().String()
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(discard{}, "", 0),
	}
	go s.http.Serve(l)
	return s
}

// discard swallows the http.Server's own log lines, such as aborted answers.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func mustParseKey(p string) *rsa.PrivateKey {
	key, err := alipay.ParsePrivateKey([]byte(p))
	if err != nil {
		panic("alipaysim: built-in key: " + err.Error())
	}
	return key
}

// Close stops the server: slow answers still pending are dropped, the port
// is closed, and Close returns once every handler has finished.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.http.Shutdown(ctx); err != nil {
			s.http.Close()
		}
	})
}

// ClientConfig returns an alipay.Config for a client of this server.
func (s *Server) ClientConfig() alipay.Config {
	return alipay.Config{
		Endpoint:        s.URL,
		ClientID:        s.ClientID,
		PrivateKey:      s.MerchantKey,
		AlipayPublicKey: s.AlipayPublicKey,
		KeyVersion:      s.keyVersion,
	}
}

// Key file names WriteKeyFiles uses.
const (
	PrivateKeyFile = "merchant_private_key.pem"
	PublicKeyFile  = "alipay_public_key.pem"
)

// WriteKeyFiles writes the merchant private key (PKCS #8 PEM, mode 0600) and
// the Alipay public key (PKIX PEM) into dir, for tests and demos that read
// key files, and returns their paths.
func (s *Server) WriteKeyFiles(dir string) (privPath, pubPath string, err error) {
	priv, err := x509.MarshalPKCS8PrivateKey(s.MerchantKey)
	if err != nil {
		return "", "", fmt.Errorf("encoding the merchant key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(s.AlipayPublicKey)
	if err != nil {
		return "", "", fmt.Errorf("encoding the Alipay public key: %w", err)
	}
	privPath = filepath.Join(dir, PrivateKeyFile)
	pubPath = filepath.Join(dir, PublicKeyFile)
	if err := os.WriteFile(privPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv}), 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		return "", "", err
	}
	return privPath, pubPath, nil
}

// Script sets what the server plays for paymentRequestId reqID, replacing
// any earlier script and its progress. Unscripted ids answer F
// ORDER_NOT_EXIST.
func (s *Server) Script(reqID string, sc Script) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.payments[reqID]; old != nil {
		delete(s.byPaymentID, old.paymentID)
	}
	p := &payment{
		requestID: reqID,
		paymentID: sc.PaymentID,
		amount:    sc.Amount,
		created:   s.clock(),
		inquiries: playback{steps: slices.Clone(sc.Steps)},
		cancels:   playback{steps: slices.Clone(sc.Cancel)},
	}
	if p.amount == (alipay.Amount{}) {
		p.amount = alipay.Amount{Currency: "USD", Value: "100"}
	}
	if p.paymentID == "" {
		s.nextID++
		p.paymentID = fmt.Sprintf("2026120119%012d", s.nextID)
	}
	s.payments[reqID] = p
	s.byPaymentID[p.paymentID] = p
}

// PaymentID returns Alipay's id of the payment scripted for reqID, and
// whether there is one.
func (s *Server) PaymentID(reqID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[reqID]
	if !ok {
		return "", false
	}
	return p.paymentID, true
}

// SetClockSkew makes the server's clock run d ahead of its clock source (d
// negative: behind). The skewed time is what Date and Response-Time carry and,
// WithRequestTimeTolerance, what Request-Time is checked against.
func (s *Server) SetClockSkew(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skew = d
}

// clock returns the skewed time; s.mu must be held.
func (s *Server) clock() time.Time { return s.now().Add(s.skew) }

// Call is one request the server received and what it answered.
type Call struct {
	Time              time.Time // the server's skewed clock at arrival
	API               string    // alipay.APIInquiry or alipay.APICancel; empty for an unknown path
	Path              string
	ClientID          string
	PaymentRequestID  string
	PaymentID         string
	MerchantAccountID string
	Answer            string // e.g. "S PROCESSING", "F INVALID_SIGNATURE", "HTTP 500", "forged S SUCCESS"
}

// Calls returns every call so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// WaitCalls waits until at least n calls have arrived and returns all calls
// so far. It gives up with ctx's error, still returning the calls so far.
// Calls are recorded when the answer is chosen, before it is sent.
func (s *Server) WaitCalls(ctx context.Context, n int) ([]Call, error) {
	for {
		s.mu.Lock()
		calls, changed := s.calls, s.changed
		if len(calls) >= n {
			calls = slices.Clone(calls)
			s.mu.Unlock()
			return calls, nil
		}
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return s.Calls(), fmt.Errorf("waiting for %d calls to the fake AMS server: %w", n, ctx.Err())
		}
	}
}

// record appends c and wakes WaitCalls; s.mu must be held.
func (s *Server) record(c Call) {
	s.calls = append(s.calls, c)
	close(s.changed)
	s.changed = make(chan struct{})
}
