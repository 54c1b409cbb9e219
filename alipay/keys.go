package alipay

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// MinKeyBits is the smallest RSA modulus, in bits, that this package accepts.
const MinKeyBits = 2048

// Reasons a key is refused. ParsePrivateKey, ParsePublicKey and the Load
// functions wrap one of them, so callers can tell the cases apart with
// errors.Is; the wrapping message says what to do.
var (
	ErrKeyEncrypted     = errors.New("the key is encrypted with a passphrase")
	ErrKeyNotRSA        = errors.New("the key is not an RSA key")
	ErrKeyTooSmall      = errors.New("the RSA key is too small")
	ErrKeyIsPublic      = errors.New("the file holds a public key where the merchant private key belongs")
	ErrKeyIsPrivate     = errors.New("the file holds a private key where the Alipay public key belongs")
	ErrKeyFormat        = errors.New("the file holds no key this program can read")
	ErrKeyIsCertificate = errors.New("the file holds a certificate, not a bare key")
)

// LoadPrivateKey reads the merchant private key from path; see ParsePrivateKey
// for the formats. Errors name the file.
func LoadPrivateKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("merchant private key file %s cannot be read; check the path and its permissions: %w", path, err)
	}
	key, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("merchant private key file %s: %w", path, err)
	}
	return key, nil
}

// LoadPublicKey reads the Alipay public key from path; see ParsePublicKey for
// the formats. Errors name the file.
func LoadPublicKey(path string) (*rsa.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("alipay public key file %s cannot be read; check the path and its permissions: %w", path, err)
	}
	key, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("alipay public key file %s: %w", path, err)
	}
	return key, nil
}

// ParsePrivateKey parses an RSA private key of at least MinKeyBits bits given
// as a PKCS #8 ("PRIVATE KEY") or PKCS #1 ("RSA PRIVATE KEY") PEM block, or as
// the raw base64 of its DER form (PKCS #8 or PKCS #1), line breaks allowed,
// which is what the Antom portal hands out.
func ParsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	der, typ, err := decodeKeyData(data)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "PRIVATE KEY", "RSA PRIVATE KEY", "":
	case "ENCRYPTED PRIVATE KEY":
		return nil, errEncrypted()
	case "PUBLIC KEY", "RSA PUBLIC KEY":
		return nil, fmt.Errorf("%w; give the private key file that was generated with it", ErrKeyIsPublic)
	case "CERTIFICATE":
		return nil, fmt.Errorf("%w; give the merchant private key (PKCS #8 or PKCS #1 PEM, or raw base64)", ErrKeyIsCertificate)
	case "EC PRIVATE KEY", "EC PARAMETERS":
		return nil, errNotRSA("an ECDSA")
	default:
		return nil, fmt.Errorf("%w (its PEM type is %q); give a PKCS #8 or PKCS #1 RSA private key", ErrKeyFormat, typ)
	}
	var key any
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		key = k
	} else if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		key = k
	} else if _, err := parsePublicDER(der); err == nil {
		return nil, fmt.Errorf("%w; give the private key file that was generated with it", ErrKeyIsPublic)
	} else {
		return nil, fmt.Errorf("%w; give a PKCS #8 or PKCS #1 RSA private key as PEM or raw base64", ErrKeyFormat)
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, errNotRSA(keyKind(key))
	}
	if err := checkSize(rk.N.BitLen()); err != nil {
		return nil, err
	}
	return rk, nil
}

// ParsePublicKey parses an RSA public key of at least MinKeyBits bits given as
// a PKIX ("PUBLIC KEY") or PKCS #1 ("RSA PUBLIC KEY") PEM block, or as the raw
// base64 of its DER form, line breaks allowed.
func ParsePublicKey(data []byte) (*rsa.PublicKey, error) {
	der, typ, err := decodeKeyData(data)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "PUBLIC KEY", "RSA PUBLIC KEY", "":
	case "PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY":
		return nil, fmt.Errorf("%w; give the Alipay public key from the Antom portal, and keep private keys out of this setting", ErrKeyIsPrivate)
	case "CERTIFICATE":
		return nil, fmt.Errorf("%w; give the Alipay public key (PKIX PEM or raw base64) from the Antom portal", ErrKeyIsCertificate)
	default:
		return nil, fmt.Errorf("%w (its PEM type is %q); give the Alipay public key as PKIX PEM or raw base64", ErrKeyFormat, typ)
	}
	key, err := parsePublicDER(der)
	if err != nil {
		if _, perr := x509.ParsePKCS8PrivateKey(der); perr == nil {
			return nil, fmt.Errorf("%w; give the Alipay public key from the Antom portal, and keep private keys out of this setting", ErrKeyIsPrivate)
		}
		if _, perr := x509.ParsePKCS1PrivateKey(der); perr == nil {
			return nil, fmt.Errorf("%w; give the Alipay public key from the Antom portal, and keep private keys out of this setting", ErrKeyIsPrivate)
		}
		return nil, fmt.Errorf("%w; give the Alipay public key as PKIX PEM or raw base64", ErrKeyFormat)
	}
	rk, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, errNotRSA(keyKind(key))
	}
	if err := checkSize(rk.N.BitLen()); err != nil {
		return nil, err
	}
	return rk, nil
}

// decodeKeyData returns the DER bytes of the first PEM block in data and its
// type, or, when data holds no PEM block, the DER decoded from raw base64 and
// an empty type. An encrypted legacy PEM block is refused here.
func decodeKeyData(data []byte) (der []byte, typ string, err error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, "", fmt.Errorf("%w: it is empty", ErrKeyFormat)
	}
	if bytes.Contains(data, []byte("-----BEGIN")) {
		block, _ := pem.Decode(data)
		if block == nil {
			return nil, "", fmt.Errorf("%w: its PEM block is damaged; copy the key again", ErrKeyFormat)
		}
		if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, "", errEncrypted()
		}
		return block.Bytes, block.Type, nil
	}
	compact := strings.Join(strings.Fields(string(data)), "")
	der, err = base64.StdEncoding.DecodeString(compact)
	if err != nil {
		return nil, "", fmt.Errorf("%w: it is neither PEM nor base64", ErrKeyFormat)
	}
	return der, "", nil
}

// parsePublicDER parses DER as PKIX, then as PKCS #1.
func parsePublicDER(der []byte) (any, error) {
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		return k, nil
	}
	return x509.ParsePKCS1PublicKey(der)
}

func errEncrypted() error {
	return fmt.Errorf("%w; store it without one, e.g. openssl pkey -in KEY.pem -out PLAIN.pem", ErrKeyEncrypted)
}

func errNotRSA(kind string) error {
	return fmt.Errorf("%w: it is %s key; Alipay AMS needs an RSA key pair of %d bits or more", ErrKeyNotRSA, kind, MinKeyBits)
}

func checkSize(bits int) error {
	if bits < MinKeyBits {
		return fmt.Errorf("%w: it has %d bits where Alipay AMS needs %d or more; use a 2048-bit key pair from the Antom portal", ErrKeyTooSmall, bits, MinKeyBits)
	}
	return nil
}

// keyKind names the algorithm of a parsed key that is not RSA, for messages.
func keyKind(key any) string {
	switch key.(type) {
	case *ecdsa.PrivateKey, *ecdsa.PublicKey:
		return "an ECDSA"
	case ed25519.PrivateKey, ed25519.PublicKey:
		return "an Ed25519"
	case *ecdh.PrivateKey, *ecdh.PublicKey:
		return "an X25519"
	default:
		return fmt.Sprintf("a %T", key)
	}
}
