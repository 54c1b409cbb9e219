package alipay_test

import (
	"crypto/rsa"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/posagent/posagent/alipay"
)

// The vector in testdata was made with OpenSSL:
//
//	openssl dgst -sha256 -sign vector_private_key.pem -out sig vector_content.txt
//	openssl base64 -A -in sig > vector_signature.b64
const (
	vectorMethod   = "POST"
	vectorPath     = "/ams/api/v1/payments/inquiryPayment"
	vectorClientID = "5X00000000000000"
	vectorTime     = "1764547200000"
	vectorBody     = `{"paymentRequestId":"20261201-0001-A"}`
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func vectorKeys(t testing.TB) (*rsa.PrivateKey, *rsa.PublicKey) {
	t.Helper()
	priv, err := alipay.LoadPrivateKey("testdata/vector_private_key.pem")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := alipay.LoadPublicKey("testdata/vector_public_key.pem")
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func vectorSignature(t testing.TB) string {
	return strings.TrimSpace(string(readFile(t, "testdata/vector_signature.b64")))
}

func TestSignedContentMatchesVectorFile(t *testing.T) {
	got := alipay.SignedContent(vectorMethod, vectorPath, vectorClientID, vectorTime, []byte(vectorBody))
	if want := readFile(t, "testdata/vector_content.txt"); string(got) != string(want) {
		t.Fatalf("SignedContent =\n%q\nwant (testdata/vector_content.txt)\n%q", got, want)
	}
}

func TestSignContentMatchesOpenSSL(t *testing.T) {
	priv, _ := vectorKeys(t)
	got, err := alipay.SignContent(priv, vectorMethod, vectorPath, vectorClientID, vectorTime, []byte(vectorBody))
	if err != nil {
		t.Fatal(err)
	}
	if want := vectorSignature(t); got != want {
		t.Fatalf("SignContent differs from openssl dgst -sha256 -sign:\n got %s\nwant %s", got, want)
	}
}

func TestVerifyContentAcceptsOpenSSLSignature(t *testing.T) {
	_, pub := vectorKeys(t)
	err := alipay.VerifyContent(pub, vectorMethod, vectorPath, vectorClientID, vectorTime, []byte(vectorBody), vectorSignature(t))
	if err != nil {
		t.Fatalf("VerifyContent refused the OpenSSL signature: %v", err)
	}
}

func TestVerifyContentRefusesTampering(t *testing.T) {
	_, pub := vectorKeys(t)
	good := vectorSignature(t)
	// flipped changes one base64 character of the signature, keeping it base64.
	flipped := []byte(good)
	if flipped[10] == 'A' {
		flipped[10] = 'B'
	} else {
		flipped[10] = 'A'
	}
	tests := []struct {
		name                         string
		method, path, clientID, time string
		body                         string
		sig                          string
	}{
		{"method", "GET", vectorPath, vectorClientID, vectorTime, vectorBody, good},
		{"path", vectorMethod, "/ams/api/v1/payments/cancel", vectorClientID, vectorTime, vectorBody, good},
		{"sandbox path", vectorMethod, "/ams/sandbox/api/v1/payments/inquiryPayment", vectorClientID, vectorTime, vectorBody, good},
		{"client id", vectorMethod, vectorPath, "5X00000000000001", vectorTime, vectorBody, good},
		{"time", vectorMethod, vectorPath, vectorClientID, "1764547200001", vectorBody, good},
		{"body", vectorMethod, vectorPath, vectorClientID, vectorTime, `{"paymentRequestId":"20261201-0001-B"}`, good},
		{"body whitespace", vectorMethod, vectorPath, vectorClientID, vectorTime, vectorBody + " ", good},
		{"signature byte", vectorMethod, vectorPath, vectorClientID, vectorTime, vectorBody, string(flipped)},
		{"signature truncated", vectorMethod, vectorPath, vectorClientID, vectorTime, vectorBody, good[:len(good)-4]},
		{"signature not base64", vectorMethod, vectorPath, vectorClientID, vectorTime, vectorBody, "%%%"},
		{"signature empty", vectorMethod, vectorPath, vectorClientID, vectorTime, vectorBody, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := alipay.VerifyContent(pub, tt.method, tt.path, tt.clientID, tt.time, []byte(tt.body), tt.sig)
			if !errors.Is(err, alipay.ErrBadSignature) {
				t.Fatalf("VerifyContent = %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestVerifyContentRefusesOtherKey(t *testing.T) {
	other, err := alipay.LoadPrivateKey("alipaysim/testdata/alipay_private_key.pem")
	if err != nil {
		t.Fatal(err)
	}
	err = alipay.VerifyContent(&other.PublicKey, vectorMethod, vectorPath, vectorClientID, vectorTime, []byte(vectorBody), vectorSignature(t))
	if !errors.Is(err, alipay.ErrBadSignature) {
		t.Fatalf("VerifyContent with another key = %v, want ErrBadSignature", err)
	}
}

func TestSignatureHeaderRoundTrip(t *testing.T) {
	sig := vectorSignature(t)
	h := alipay.Signature{Algorithm: "RSA256", KeyVersion: 1, Value: sig}.HeaderValue()
	if !strings.HasPrefix(h, "algorithm=RSA256,keyVersion=1,signature=") {
		t.Fatalf("HeaderValue = %q", h)
	}
	encoded := strings.TrimPrefix(h, "algorithm=RSA256,keyVersion=1,signature=")
	if strings.ContainsAny(encoded, "+/=") {
		t.Fatalf("the signature in %q is not URL-encoded", h)
	}
	if encoded != url.QueryEscape(sig) {
		t.Fatalf("encoded signature %q, want %q", encoded, url.QueryEscape(sig))
	}
	got, err := alipay.ParseSignature(h)
	if err != nil {
		t.Fatal(err)
	}
	if got.Algorithm != "RSA256" || got.KeyVersion != 1 || got.Value != sig {
		t.Fatalf("ParseSignature(HeaderValue()) = %+v", got)
	}
}

func TestParseSignature(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		want    alipay.Signature
		wantErr bool
	}{
		{"encoded", "algorithm=RSA256,keyVersion=2,signature=ab%2Bc%2Fd%3D%3D", alipay.Signature{"RSA256", 2, "ab+c/d=="}, false},
		{"unencoded plus kept", "algorithm=RSA256,keyVersion=1,signature=ab+c/d==", alipay.Signature{"RSA256", 1, "ab+c/d=="}, false},
		{"no key version", "algorithm=RSA256,signature=abcd", alipay.Signature{"RSA256", 0, "abcd"}, false},
		{"any order and spaces", " signature=abcd , algorithm=RSA256", alipay.Signature{"RSA256", 0, "abcd"}, false},
		{"empty", "", alipay.Signature{}, true},
		{"other algorithm", "algorithm=RSA512,signature=abcd", alipay.Signature{}, true},
		{"no algorithm", "keyVersion=1,signature=abcd", alipay.Signature{}, true},
		{"no signature", "algorithm=RSA256,keyVersion=1", alipay.Signature{}, true},
		{"empty signature", "algorithm=RSA256,signature=", alipay.Signature{}, true},
		{"bad key version", "algorithm=RSA256,keyVersion=x,signature=abcd", alipay.Signature{}, true},
		{"part without =", "algorithm=RSA256,junk,signature=abcd", alipay.Signature{}, true},
		{"bad escape", "algorithm=RSA256,signature=ab%zz", alipay.Signature{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := alipay.ParseSignature(tt.header)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseSignature(%q) error = %v, want error %v", tt.header, err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("ParseSignature(%q) = %#v, want %#v", tt.header, got, tt.want)
			}
		})
	}
}

func TestSignatureStringHidesSignature(t *testing.T) {
	sig := vectorSignature(t)
	s := alipay.Signature{Algorithm: "RSA256", KeyVersion: 1, Value: sig}
	for _, text := range []string{s.String(), fmtV(s)} {
		if strings.Contains(text, sig[:20]) {
			t.Fatalf("%q shows more than the start of the signature", text)
		}
	}
}
