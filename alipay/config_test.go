package alipay_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay"
)

func validConfig(t *testing.T) alipay.Config {
	priv, pub := vectorKeys(t)
	return alipay.Config{
		Endpoint:        "https://open-sea-global.alipay.com",
		ClientID:        "5X00000000000000",
		PrivateKey:      priv,
		AlipayPublicKey: pub,
	}
}

func TestNewClientAcceptsEndpoints(t *testing.T) {
	for _, endpoint := range []string{
		"https://open-sea-global.alipay.com",
		"https://open-na-global.alipay.com/",
		"https://open-de-global.alipay.com:443",
		"http://127.0.0.1:8080",
		"http://127.0.0.2:8080",
		"http://localhost:8080",
		"http://[::1]:8080",
	} {
		t.Run(endpoint, func(t *testing.T) {
			cfg := validConfig(t)
			cfg.Endpoint = endpoint
			if _, err := alipay.NewClient(cfg); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNewClientRefusesBadConfig(t *testing.T) {
	// A 1024-bit key, parsed without this package's size check.
	block, _ := pem.Decode(readFile(t, "testdata/private_rsa1024.pem"))
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	small := parsed.(*rsa.PrivateKey)
	tests := []struct {
		name   string
		change func(*alipay.Config)
		want   string // part of the error
	}{
		{"http to a remote host", func(c *alipay.Config) { c.Endpoint = "http://open-sea-global.alipay.com" }, "not loopback; use https"},
		{"http to a LAN address", func(c *alipay.Config) { c.Endpoint = "http://192.168.1.10:8080" }, "not loopback"},
		{"other scheme", func(c *alipay.Config) { c.Endpoint = "ftp://open-sea-global.alipay.com" }, "must start with https://"},
		{"no scheme", func(c *alipay.Config) { c.Endpoint = "open-sea-global.alipay.com" }, "is not a URL"},
		{"empty endpoint", func(c *alipay.Config) { c.Endpoint = "" }, "is not a URL"},
		{"endpoint with path", func(c *alipay.Config) { c.Endpoint = "https://open-sea-global.alipay.com/ams" }, "scheme and host only"},
		{"endpoint with query", func(c *alipay.Config) { c.Endpoint = "https://open-sea-global.alipay.com?x=1" }, "scheme and host only"},
		{"endpoint with user", func(c *alipay.Config) { c.Endpoint = "https://u:p@open-sea-global.alipay.com" }, "scheme and host only"},
		{"empty client id", func(c *alipay.Config) { c.ClientID = "" }, "client id is empty"},
		{"client id with space", func(c *alipay.Config) { c.ClientID = "5X00 0000" }, "spaces or control characters"},
		{"client id with newline", func(c *alipay.Config) { c.ClientID = "5X00\nX: y" }, "spaces or control characters"},
		{"no private key", func(c *alipay.Config) { c.PrivateKey = nil }, "private key is missing"},
		{"no public key", func(c *alipay.Config) { c.AlipayPublicKey = nil }, "public key is missing"},
		{"small private key", func(c *alipay.Config) { c.PrivateKey = small }, "merchant private key: the RSA key is too small"},
		{"small public key", func(c *alipay.Config) { c.AlipayPublicKey = &small.PublicKey }, "alipay public key: the RSA key is too small"},
		{"negative key version", func(c *alipay.Config) { c.KeyVersion = -1 }, "key version -1 is negative"},
		{"timeout too short", func(c *alipay.Config) { c.Timeout = 500 * time.Millisecond }, "timeout 500ms is outside 1s to 1m0s"},
		{"timeout too long", func(c *alipay.Config) { c.Timeout = 61 * time.Second }, "outside"},
		{"negative timeout", func(c *alipay.Config) { c.Timeout = -time.Second }, "outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig(t)
			tt.change(&cfg)
			c, err := alipay.NewClient(cfg)
			if err == nil {
				t.Fatalf("NewClient accepted the config (client %v)", c != nil)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestNewClientListsEveryProblem(t *testing.T) {
	_, err := alipay.NewClient(alipay.Config{Endpoint: "http://example.com", Timeout: time.Hour})
	if err == nil {
		t.Fatal("NewClient accepted an empty config")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 5 {
		t.Fatalf("want 5 problems, one a line, got %d:\n%v", len(lines), err)
	}
}
