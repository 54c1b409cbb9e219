package config

import (
	"github.com/posagent/posagent/alipay"
)

// AlipayConfig loads the two key files named in [alipay] and returns what
// alipay.NewClient needs. Its clock is left nil, which alipay takes as the
// system clock; callers with a clock of their own set Now.
//
// A key file that cannot be used gives a *Error with one problem for
// each such file, naming its key in the configuration file.
func (c *Config) AlipayConfig() (alipay.Config, error) {
	var problems []Problem
	priv, err := alipay.LoadPrivateKey(c.Alipay.PrivateKeyFile)
	if err != nil {
		problems = append(problems, c.problem("alipay.private_key_file", err))
	}
	pub, err := alipay.LoadPublicKey(c.Alipay.AlipayPublicKeyFile)
	if err != nil {
		problems = append(problems, c.problem("alipay.alipay_public_key_file", err))
	}
	if len(problems) > 0 {
		return alipay.Config{}, &Error{Problems: problems}
	}
	return alipay.Config{
		Endpoint:          c.Alipay.Endpoint,
		ClientID:          c.Alipay.ClientID,
		PrivateKey:        priv,
		AlipayPublicKey:   pub,
		KeyVersion:        c.Alipay.KeyVersion,
		MerchantAccountID: c.Alipay.MerchantAccountID,
		Timeout:           c.Alipay.Timeout,
	}, nil
}

// problem returns err as a Problem with key, at the key's line in the file
// when known.
func (c *Config) problem(key string, err error) Problem {
	return Problem{File: c.Path, Line: c.lines[key], Key: key, Msg: err.Error()}
}

// Check does what `posagent config check` promises: it loads and
// checks the configuration file at path and then the key files it names,
// makes sure alipay.NewClient takes the result, checks status.token_file
// when status.listen demands a token, and returns the configuration and the
// client's ready for use. The error is Load's, or a *Error
// listing every problem with the key files, the [alipay] section or the
// token file. A missing token file is no problem where `posagent run`
// writes it (Windows).
func Check(path string) (*Config, alipay.Config, error) {
	cfg, err := Load(path)
	if err != nil {
		return nil, alipay.Config{}, err
	}
	ac, err := cfg.AlipayConfig()
	if err != nil {
		return nil, alipay.Config{}, err
	}
	// Load applies the client's own rules already; this keeps the two
	// from drifting apart unnoticed.
	if _, err := alipay.NewClient(ac); err != nil {
		// NewClient joins one error per problem (errors.Join).
		errs := []error{err}
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			errs = joined.Unwrap()
		}
		var problems []Problem
		for _, e := range errs {
			problems = append(problems, Problem{File: path, Key: "alipay", Msg: e.Error()})
		}
		return nil, alipay.Config{}, &Error{Problems: problems}
	}
	if err := cfg.CheckStatusToken(); err != nil {
		return nil, alipay.Config{}, err
	}
	return cfg, ac, nil
}
