package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no document makes Parse panic, that
// every refusal is a *Error with at least one problem naming the file,
// and that every accepted document gives a configuration within the limits.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "config", "*.toml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("f.toml", data)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error %T %v, want a *Error with problems", err, err)
			}
			for _, p := range ce.Problems {
				if p.File != "f.toml" || p.Msg == "" || p.Line < 0 {
					t.Fatalf("problem %+v", p)
				}
			}
			return
		}
		switch {
		case cfg.Register.Port == "" && cfg.Register.USB == "",
			cfg.Alipay.ClientID == "", cfg.Alipay.PrivateKeyFile == "", cfg.Alipay.AlipayPublicKeyFile == "",
			cfg.Alipay.Timeout < minTimeout, cfg.Alipay.Timeout > maxTimeout,
			cfg.Polling.Interval < minInterval, cfg.Polling.Interval >= cfg.Polling.CancelAfter,
			cfg.Polling.CancelAfter > maxCancelAfter,
			!(cfg.Polling.MaxRPS >= minMaxRPS && cfg.Polling.MaxRPS <= maxMaxRPS),
			cfg.Storage.Retention < minRetention, cfg.Storage.Path == "":
			t.Fatalf("accepted a configuration outside the limits: %+v", cfg)
		}
	})
}
