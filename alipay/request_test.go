package alipay_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/internal/postest"
)

// TestRequestIsSignedAsDesignSays checks a request on the wire with nothing
// but the standard library: headers, body, and the signature recomputed from
// the signing rule in docs/design.md.
func TestRequestIsSignedAsDesignSays(t *testing.T) {
	got := make(chan *http.Request, 1)
	bodies := make(chan []byte, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.Clone(r.Context())
		bodies <- b
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(ts.Close)
	priv, pub := vectorKeys(t)
	now := time.Date(2026, 12, 1, 0, 0, 0, 123e6, time.UTC)
	c, err := alipay.NewClient(alipay.Config{
		Endpoint: ts.URL, ClientID: "SANDBOX_5X00000000000000", PrivateKey: priv, AlipayPublicKey: pub,
		KeyVersion: 7, MerchantAccountID: "MA-1", Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	_, err = c.Cancel(postest.Context(t), alipay.Ref{PaymentRequestID: "R<&>1"})
	if alipay.CancelClassOf(nil, err) != alipay.Unknown {
		t.Fatalf("Cancel against HTTP 503 = %v", err)
	}
	r, body := <-got, <-bodies

	const path = "/ams/sandbox/api/v1/payments/cancel"
	checks := []struct{ what, got, want string }{
		{"method", r.Method, "POST"},
		{"path", r.URL.Path, path},
		{"Content-Type", r.Header.Get("Content-Type"), "application/json; charset=UTF-8"},
		{"Client-Id", r.Header.Get("Client-Id"), "SANDBOX_5X00000000000000"},
		{"Request-Time", r.Header.Get("Request-Time"), strconv.FormatInt(now.UnixMilli(), 10)},
		{"body", string(body), `{"paymentRequestId":"R\u003c\u0026\u003e1","merchantAccountId":"MA-1"}`},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	header := r.Header.Get("Signature")
	const prefix = "algorithm=RSA256,keyVersion=7,signature="
	if !strings.HasPrefix(header, prefix) {
		t.Fatalf("Signature header %q does not start with %q", header, prefix)
	}
	encoded := strings.TrimPrefix(header, prefix)
	if strings.ContainsAny(encoded, "+/=") {
		t.Fatalf("signature %q is not URL-encoded", encoded)
	}
	b64, err := url.QueryUnescape(encoded)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	content := "POST " + path + "\nSANDBOX_5X00000000000000." + r.Header.Get("Request-Time") + "." + string(body)
	digest := sha256.Sum256([]byte(content))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("the request signature does not verify over %q: %v", content, err)
	}
}

// TestRequestTimeComesFromTheConfiguredClock runs the fake server with a
// stopped clock and a tolerance of one millisecond: only a Request-Time taken
// from Config.Now passes.
func TestRequestTimeComesFromTheConfiguredClock(t *testing.T) {
	fixed := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	clock := func() time.Time { return fixed }
	srv, c := newFake(t, func(c *alipay.Config) { c.Now = clock },
		alipaysim.WithClock(clock), alipaysim.WithRequestTimeTolerance(time.Millisecond))
	srv.Script("R1", alipaysim.Script{})
	if _, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"}); err != nil {
		t.Fatal(err)
	}
	_, other := newFake(t, nil, alipaysim.WithClock(clock), alipaysim.WithRequestTimeTolerance(time.Millisecond))
	_, err := other.Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"})
	if e := asError(t, err); e.Code != "INVALID_SIGNATURE" {
		t.Fatalf("with the real clock against a server in 2031: %v", err)
	}
}
