package alipay

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Limits and defaults of Config.
const (
	DefaultTimeout    = 15 * time.Second
	MinTimeout        = time.Second
	MaxTimeout        = 60 * time.Second
	DefaultKeyVersion = 1
)

// Config is what a Client needs; the agent fills it from the [alipay] section
// of the configuration file.
type Config struct {
	// Endpoint is the AMS base URL, scheme and host only, such as
	// https://open-sea-global.alipay.com. Plain http is allowed only for
	// loopback hosts (a local test server).
	Endpoint          string
	ClientID          string
	PrivateKey        *rsa.PrivateKey  // the merchant key that signs requests
	AlipayPublicKey   *rsa.PublicKey   // the key answers must be signed with
	KeyVersion        int              // DefaultKeyVersion when 0
	MerchantAccountID string           // sent as "merchantAccountId" when set
	Timeout           time.Duration    // per call; DefaultTimeout when 0; MinTimeout..MaxTimeout
	Now               func() time.Time // the clock for Request-Time; time.Now when nil
}

// Option adjusts how NewClient builds the HTTP layer.
type Option func(*options)

type options struct {
	rootCAs *x509.CertPool
}

// WithRootCAs makes the client trust the certificates in pool instead of the
// system's, e.g. a test server's own certificate. Verification stays on.
func WithRootCAs(pool *x509.CertPool) Option {
	return func(o *options) { o.rootCAs = pool }
}

// withDefaults returns cfg with its zero fields set to their defaults.
func (cfg Config) withDefaults() Config {
	if cfg.KeyVersion == 0 {
		cfg.KeyVersion = DefaultKeyVersion
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// validate returns one error per problem in cfg, joined, or nil.
func (cfg Config) validate() error {
	var errs []error
	if err := checkEndpoint(cfg.Endpoint); err != nil {
		errs = append(errs, err)
	}
	if cfg.ClientID == "" {
		errs = append(errs, errors.New("the client id is empty; copy it from the Antom portal"))
	} else if strings.ContainsFunc(cfg.ClientID, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		errs = append(errs, fmt.Errorf("the client id %q contains spaces or control characters; copy it again from the Antom portal", cfg.ClientID))
	}
	if cfg.PrivateKey == nil {
		errs = append(errs, errors.New("the merchant private key is missing"))
	} else if err := checkSize(cfg.PrivateKey.N.BitLen()); err != nil {
		errs = append(errs, fmt.Errorf("merchant private key: %w", err))
	}
	if cfg.AlipayPublicKey == nil {
		errs = append(errs, errors.New("the Alipay public key is missing"))
	} else if err := checkSize(cfg.AlipayPublicKey.N.BitLen()); err != nil {
		errs = append(errs, fmt.Errorf("alipay public key: %w", err))
	}
	if cfg.KeyVersion < 0 {
		errs = append(errs, fmt.Errorf("the key version %d is negative; use the version the Antom portal shows, usually 1", cfg.KeyVersion))
	}
	if cfg.Timeout < MinTimeout || cfg.Timeout > MaxTimeout {
		errs = append(errs, fmt.Errorf("the timeout %v is outside %v to %v", cfg.Timeout, MinTimeout, MaxTimeout))
	}
	return errors.Join(errs...)
}

// checkEndpoint accepts an https URL, or an http URL to a loopback host,
// with nothing after the host.
func checkEndpoint(endpoint string) error {
	const example = "https://open-sea-global.alipay.com"
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("the endpoint %q is not a URL like %s", endpoint, example)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("the endpoint %q uses plain http to a host that is not loopback; use https", endpoint)
		}
	default:
		return fmt.Errorf("the endpoint %q must start with https://, like %s", endpoint, example)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("the endpoint %q must be the scheme and host only, like %s", endpoint, example)
	}
	return nil
}

// isLoopback reports whether host names this machine: "localhost" or a
// loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
