package alipay

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// ErrBadSignature reports a signature that does not match the signed content
// under the given public key.
var ErrBadSignature = errors.New("the signature does not match the content")

// SignedContent returns the exact bytes AMS signs for a request or a response:
//
//	<method> <path>\n<clientID>.<timestamp>.<body>
//
// timestamp is the Request-Time or Response-Time header value, milliseconds
// since the epoch as sent; body is the raw body, byte for byte.
func SignedContent(method, path, clientID, timestamp string, body []byte) []byte {
	b := make([]byte, 0, len(method)+len(path)+len(clientID)+len(timestamp)+len(body)+4)
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, '\n')
	b = append(b, clientID...)
	b = append(b, '.')
	b = append(b, timestamp...)
	b = append(b, '.')
	return append(b, body...)
}

// SignContent signs SignedContent(method, path, clientID, timestamp, body) with
// RSA PKCS #1 v1.5 over SHA-256 and returns the signature in standard, padded
// base64. It is not yet URL-encoded: Signature.HeaderValue does that.
func SignContent(key *rsa.PrivateKey, method, path, clientID, timestamp string, body []byte) (string, error) {
	digest := sha256.Sum256(SignedContent(method, path, clientID, timestamp, body))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("signing with the merchant private key failed: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// VerifyContent checks signature, standard base64 as returned by SignContent
// or ParseSignature, against SignedContent(method, path, clientID, timestamp,
// body) under key. It returns nil only for a matching signature, and an error
// wrapping ErrBadSignature otherwise.
func VerifyContent(key *rsa.PublicKey, method, path, clientID, timestamp string, body []byte, signature string) error {
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return fmt.Errorf("%w: it is not standard base64", ErrBadSignature)
	}
	digest := sha256.Sum256(SignedContent(method, path, clientID, timestamp, body))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
		return ErrBadSignature
	}
	return nil
}

// Signature is the value of an AMS Signature header,
// "algorithm=RSA256,keyVersion=1,signature=<url-encoded base64>".
//
// Its String method shows only the start of the signature so that logging a
// Signature never writes a whole one (docs/design.md, rule 7).
type Signature struct {
	Algorithm  string // "RSA256", the only algorithm this package signs or verifies
	KeyVersion int    // 0 when the header carries none
	Value      string // standard base64, already URL-decoded
}

// HeaderValue returns the Signature header value, with Value URL-encoded so
// that '+', '/' and '=' are escaped. A zero KeyVersion is left out.
func (s Signature) HeaderValue() string {
	var b strings.Builder
	b.WriteString("algorithm=")
	b.WriteString(s.Algorithm)
	if s.KeyVersion != 0 {
		b.WriteString(",keyVersion=")
		b.WriteString(strconv.Itoa(s.KeyVersion))
	}
	b.WriteString(",signature=")
	b.WriteString(url.QueryEscape(s.Value))
	return b.String()
}

// String returns the header value with the signature cut to its first eight
// characters, for logs.
func (s Signature) String() string {
	v := s.Value
	if len(v) > 8 {
		v = v[:8] + "..."
	}
	return fmt.Sprintf("algorithm=%s,keyVersion=%d,signature=%s", s.Algorithm, s.KeyVersion, v)
}

// ParseSignature parses a Signature header value. Parts may come in any order
// and unknown parts are ignored; the signature part is URL-decoded, and a '+'
// in it is kept as '+' so an unencoded base64 value still parses. The
// algorithm must be RSA256.
func ParseSignature(header string) (Signature, error) {
	var s Signature
	if strings.TrimSpace(header) == "" {
		return s, errors.New("the Signature header is empty")
	}
	var haveValue bool
	for part := range strings.SplitSeq(header, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Signature{}, fmt.Errorf("the Signature header part %.20q is not name=value", part)
		}
		switch name {
		case "algorithm":
			s.Algorithm = value
		case "keyVersion":
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return Signature{}, fmt.Errorf("the Signature header keyVersion %.20q is not a whole number", value)
			}
			s.KeyVersion = n
		case "signature":
			v, err := url.PathUnescape(value)
			if err != nil {
				return Signature{}, errors.New("the Signature header signature is not URL-encoded correctly")
			}
			s.Value, haveValue = v, true
		}
	}
	if s.Algorithm != "RSA256" {
		return Signature{}, fmt.Errorf("the Signature header algorithm %.20q is not RSA256", s.Algorithm)
	}
	if !haveValue || s.Value == "" {
		return Signature{}, errors.New("the Signature header has no signature")
	}
	return s, nil
}
