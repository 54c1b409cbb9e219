package config

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeKeyPair writes a fresh 2048-bit RSA key pair into dir as
// merchant_private_key.pem (PKCS #8) and alipay_public_key.pem (PKIX) and
// returns the private key.
func writeKeyPair(t *testing.T, dir string) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*pem.Block{
		"merchant_private_key.pem": {Type: "PRIVATE KEY", Bytes: priv},
		"alipay_public_key.pem":    {Type: "PUBLIC KEY", Bytes: pub},
	}
	for name, block := range files {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return key
}

// writeConfig writes a configuration naming the key files privName and
// pubName, relative to dir, and returns its path.
func writeConfig(t *testing.T, dir, privName, pubName string) string {
	t.Helper()
	doc := `[register]
port = "/dev/ttyUSB0"
[alipay]
endpoint = "http://127.0.0.1:9"
client_id = "SANDBOX_5X00000000000000"
private_key_file = "` + privName + `"
alipay_public_key_file = "` + pubName + `"
key_version = 3
merchant_account_id = "218100"
timeout = "7s"
`
	path := filepath.Join(dir, "posagent.toml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckLoadsKeyFiles(t *testing.T) {
	dir := t.TempDir()
	key := writeKeyPair(t, dir)
	path := writeConfig(t, dir, "merchant_private_key.pem", "alipay_public_key.pem")

	cfg, ac, err := Check(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path != path {
		t.Errorf("Path = %q, want %q", cfg.Path, path)
	}
	if !key.Equal(ac.PrivateKey) || !key.PublicKey.Equal(ac.AlipayPublicKey) {
		t.Error("keys loaded differ from the keys written")
	}
	if ac.Endpoint != "http://127.0.0.1:9" || ac.ClientID != "SANDBOX_5X00000000000000" ||
		ac.KeyVersion != 3 || ac.MerchantAccountID != "218100" || ac.Timeout != 7*time.Second {
		t.Errorf("alipay config = %+v, want the [alipay] values", ac)
	}
}

func TestCheckReportsEachBadKeyFile(t *testing.T) {
	dir := t.TempDir()
	writeKeyPair(t, dir)
	// The public key where the private key belongs, and a file that is not there.
	path := writeConfig(t, dir, "alipay_public_key.pem", "absent.pem")

	_, _, err := Check(path)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Check = %v, want a *Error", err)
	}
	checkProblems(t, ce.Problems, []wantProblem{
		{6, "alipay.private_key_file", "public key where the merchant private key belongs"},
		{7, "alipay.alipay_public_key_file", "absent.pem cannot be read"},
	})
	if !strings.HasPrefix(ce.Error(), path+":6: alipay.private_key_file: ") {
		t.Errorf("error %q should start with the file and key", ce.Error())
	}
}

func TestCheckStopsAtConfigProblems(t *testing.T) {
	_, _, err := Check(filepath.Join(testdataDir(t), "missing.toml"))
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 4 {
		t.Fatalf("Check(missing.toml) = %v, want the 4 missing keys", err)
	}
}
