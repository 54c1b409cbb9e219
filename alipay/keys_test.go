package alipay_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/posagent/posagent/alipay"
)

func TestLoadPrivateKeyFormats(t *testing.T) {
	want, _ := vectorKeys(t)
	for _, file := range []string{
		"vector_private_key.pem",         // PKCS #8 PEM
		"private_pkcs1.pem",              // PKCS #1 PEM
		"private_raw_base64.txt",         // base64 of PKCS #8 DER on one line, as the Antom portal shows it
		"private_raw_base64_wrapped.txt", // the same wrapped at 64 columns
	} {
		t.Run(file, func(t *testing.T) {
			key, err := alipay.LoadPrivateKey(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			if !key.Equal(want) {
				t.Fatal("loaded a different key")
			}
		})
	}
}

func TestLoadPrivateKeyPKCS1Base64(t *testing.T) {
	// The PKCS #1 DER in raw base64, made from the PKCS #1 PEM.
	pemText := string(readFile(t, "testdata/private_pkcs1.pem"))
	var body []string
	for _, line := range strings.Split(pemText, "\n") {
		if line != "" && !strings.HasPrefix(line, "-----") {
			body = append(body, line)
		}
	}
	path := filepath.Join(t.TempDir(), "pkcs1.b64")
	if err := os.WriteFile(path, []byte(strings.Join(body, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := alipay.LoadPrivateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := vectorKeys(t); !key.Equal(want) {
		t.Fatal("loaded a different key")
	}
}

func TestLoadPublicKeyFormats(t *testing.T) {
	_, want := vectorKeys(t)
	for _, file := range []string{
		"vector_public_key.pem", // PKIX PEM
		"public_pkcs1.pem",      // PKCS #1 "RSA PUBLIC KEY" PEM
		"public_raw_base64.txt", // base64 of PKIX DER, as the Antom portal shows it
	} {
		t.Run(file, func(t *testing.T) {
			key, err := alipay.LoadPublicKey(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			if !key.Equal(want) {
				t.Fatal("loaded a different key")
			}
		})
	}
}

func TestLoadKeyRefusals(t *testing.T) {
	loadPrivate := func(p string) error { _, err := alipay.LoadPrivateKey(p); return err }
	loadPublic := func(p string) error { _, err := alipay.LoadPublicKey(p); return err }
	tests := []struct {
		name string
		load func(string) error
		file string
		want error // nil: only the file name and a cause are checked
	}{
		{"private: encrypted PKCS #8", loadPrivate, "private_encrypted_pkcs8.pem", alipay.ErrKeyEncrypted},
		{"private: encrypted PKCS #1", loadPrivate, "private_encrypted_pkcs1.pem", alipay.ErrKeyEncrypted},
		{"private: ECDSA", loadPrivate, "private_ec.pem", alipay.ErrKeyNotRSA},
		{"private: Ed25519", loadPrivate, "private_ed25519.pem", alipay.ErrKeyNotRSA},
		{"private: RSA 1024", loadPrivate, "private_rsa1024.pem", alipay.ErrKeyTooSmall},
		{"private: PKIX public key", loadPrivate, "vector_public_key.pem", alipay.ErrKeyIsPublic},
		{"private: PKCS #1 public key", loadPrivate, "public_pkcs1.pem", alipay.ErrKeyIsPublic},
		{"private: raw base64 public key", loadPrivate, "public_raw_base64.txt", alipay.ErrKeyIsPublic},
		{"private: certificate", loadPrivate, "certificate.pem", alipay.ErrKeyIsCertificate},
		{"private: garbage", loadPrivate, "garbage.txt", alipay.ErrKeyFormat},
		{"private: empty", loadPrivate, "empty.txt", alipay.ErrKeyFormat},
		{"private: missing file", loadPrivate, "no_such_file.pem", os.ErrNotExist},
		{"private: a directory", loadPrivate, ".", nil},
		{"public: PKCS #8 private key", loadPublic, "vector_private_key.pem", alipay.ErrKeyIsPrivate},
		{"public: PKCS #1 private key", loadPublic, "private_pkcs1.pem", alipay.ErrKeyIsPrivate},
		{"public: raw base64 private key", loadPublic, "private_raw_base64.txt", alipay.ErrKeyIsPrivate},
		{"public: encrypted private key", loadPublic, "private_encrypted_pkcs8.pem", alipay.ErrKeyIsPrivate},
		{"public: ECDSA", loadPublic, "public_ec.pem", alipay.ErrKeyNotRSA},
		{"public: RSA 1024", loadPublic, "public_rsa1024.pem", alipay.ErrKeyTooSmall},
		{"public: certificate", loadPublic, "certificate.pem", alipay.ErrKeyIsCertificate},
		{"public: garbage", loadPublic, "garbage.txt", alipay.ErrKeyFormat},
		{"public: empty", loadPublic, "empty.txt", alipay.ErrKeyFormat},
		{"public: missing file", loadPublic, "no_such_file.pem", os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			err := tt.load(path)
			if err == nil {
				t.Fatal("loaded without error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %q does not wrap %q", err, tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Fatalf("error %q does not name the file", msg)
			}
			if strings.Contains(msg, "\n") {
				t.Fatalf("error %q is more than one line", msg)
			}
			if strings.Contains(msg, "MII") {
				t.Fatalf("error %q repeats key material", msg)
			}
		})
	}
}

func TestParseKeyRefusesDamagedPEM(t *testing.T) {
	pemText := readFile(t, "testdata/vector_private_key.pem")
	cut := pemText[:len(pemText)/2]
	if _, err := alipay.ParsePrivateKey(cut); !errors.Is(err, alipay.ErrKeyFormat) {
		t.Fatalf("ParsePrivateKey(half a PEM) = %v, want ErrKeyFormat", err)
	}
	if _, err := alipay.ParsePublicKey(cut); !errors.Is(err, alipay.ErrKeyFormat) {
		t.Fatalf("ParsePublicKey(half a PEM) = %v, want ErrKeyFormat", err)
	}
}

func TestParseKeyRefusesUnreadableFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("a file mode cannot make a file unreadable on Windows")
	}
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their mode")
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, readFile(t, "testdata/vector_private_key.pem"), 0o000); err != nil {
		t.Fatal(err)
	}
	_, err := alipay.LoadPrivateKey(path)
	if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), path) {
		t.Fatalf("LoadPrivateKey(mode 000) = %v, want a permission error naming the file", err)
	}
}
