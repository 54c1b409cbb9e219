package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// decoder fills a Config from a parsed TOML document, collecting a Problem for
// every key it cannot take instead of stopping at the first.
type decoder struct {
	file     string         // the file, for problems
	lines    map[string]int // dotted key to line, from keyLines
	cfg      Config
	set      map[string]bool // dotted keys the file gave a usable value
	problems []Problem
}

// configKey describes one key of the file: the field that stores it and an
// example value for messages.
type configKey struct {
	section, name string
	field         func(*Config) any // pointer to the field: *string, *int, *float64, *bool or *time.Duration
	example       string
}

// configKeys lists every key the file may contain, section by section, in the
// order of docs/design.md.
func configKeys() []configKey {
	return []configKey{
		{"register", "port", func(c *Config) any { return &c.Register.Port }, `"/dev/ttyUSB0", "COM3" or "auto"`},
		{"register", "usb", func(c *Config) any { return &c.Register.USB }, `"0403:6001"`},
		{"register", "baud", func(c *Config) any { return &c.Register.Baud }, `115200`},
		{"register", "parity", func(c *Config) any { return &c.Register.Parity }, `"none"`},
		{"register", "stop_bits", func(c *Config) any { return &c.Register.StopBits }, `1`},

		{"alipay", "endpoint", func(c *Config) any { return &c.Alipay.Endpoint }, `"https://open-sea-global.alipay.com"`},
		{"alipay", "client_id", func(c *Config) any { return &c.Alipay.ClientID }, `"SANDBOX_5X00000000000000"`},
		{"alipay", "private_key_file", func(c *Config) any { return &c.Alipay.PrivateKeyFile }, `"merchant_private_key.pem"`},
		{"alipay", "alipay_public_key_file", func(c *Config) any { return &c.Alipay.AlipayPublicKeyFile }, `"alipay_public_key.pem"`},
		{"alipay", "key_version", func(c *Config) any { return &c.Alipay.KeyVersion }, `1`},
		{"alipay", "merchant_account_id", func(c *Config) any { return &c.Alipay.MerchantAccountID }, `"21812345678901234"`},
		{"alipay", "timeout", func(c *Config) any { return &c.Alipay.Timeout }, `"15s"`},

		{"polling", "interval", func(c *Config) any { return &c.Polling.Interval }, `"3s"`},
		{"polling", "cancel_after", func(c *Config) any { return &c.Polling.CancelAfter }, `"60s"`},
		{"polling", "max_rps", func(c *Config) any { return &c.Polling.MaxRPS }, `5`},
		{"polling", "absent_grace", func(c *Config) any { return &c.Polling.AbsentGrace }, `"2m"`},

		{"storage", "path", func(c *Config) any { return &c.Storage.Path }, `"posagent.db"`},
		{"storage", "retention", func(c *Config) any { return &c.Storage.Retention }, `"720h"`},

		{"log", "level", func(c *Config) any { return &c.Log.Level }, `"info"`},
		{"log", "file", func(c *Config) any { return &c.Log.File }, `"posagent.log"`},

		{"status", "listen", func(c *Config) any { return &c.Status.Listen }, `"127.0.0.1:8765"`},
		{"status", "allow_remote", func(c *Config) any { return &c.Status.AllowRemote }, `false`},
		{"status", "token_file", func(c *Config) any { return &c.Status.TokenFile }, `"status.token"`},
		{"status", "store", func(c *Config) any { return &c.Status.Store }, `"Shanghai Nanjing Rd 0042"`},
		{"status", "lane", func(c *Config) any { return &c.Status.Lane }, `"3"`},
	}
}

// sectionNames lists the sections of the file in order.
func sectionNames(keys []configKey) []string {
	var names []string
	for _, k := range keys {
		if !slices.Contains(names, k.section) {
			names = append(names, k.section)
		}
	}
	return names
}

// keyNames lists the keys of one section in order.
func keyNames(keys []configKey, section string) []string {
	var names []string
	for _, k := range keys {
		if k.section == section {
			names = append(names, k.name)
		}
	}
	return names
}

// problem records a problem with key (dotted), at the key's line if known.
func (d *decoder) problem(key, format string, args ...any) {
	d.problems = append(d.problems, Problem{
		File: d.file,
		Line: d.lines[key],
		Key:  key,
		Msg:  fmt.Sprintf(format, args...),
	})
}

// decode walks the document's keys in file order and stores each known key's
// value in d.cfg. Unknown sections and keys, and values of the wrong type,
// become problems.
func (d *decoder) decode(md toml.MetaData, doc map[string]any) {
	keys := configKeys()
	sections := sectionNames(keys)
	d.set = make(map[string]bool)
	for _, k := range md.Keys() {
		dotted := strings.Join(k, ".")
		switch len(k) {
		case 1:
			if !slices.Contains(sections, k[0]) {
				d.problem(dotted, "unknown section or key; the sections are [%s]", strings.Join(sections, "], ["))
				continue
			}
			if _, ok := doc[k[0]].(map[string]any); !ok {
				d.problem(dotted, "must be a table, written as a [%s] header above its keys", k[0])
			}
		case 2:
			table, ok := doc[k[0]].(map[string]any)
			if !ok || !slices.Contains(sections, k[0]) {
				continue // reported with the section
			}
			i := slices.IndexFunc(keys, func(c configKey) bool { return c.section == k[0] && c.name == k[1] })
			if i < 0 {
				d.problem(dotted, "unknown key; the keys of [%s] are %s", k[0], strings.Join(keyNames(keys, k[0]), ", "))
				continue
			}
			if d.store(dotted, keys[i], table[k[1]]) {
				d.set[dotted] = true
			}
		}
		// Deeper keys belong to a value already refused above.
	}
}

// store puts the TOML value v into the field of key, or records why it cannot.
func (d *decoder) store(dotted string, key configKey, v any) bool {
	switch f := key.field(&d.cfg).(type) {
	case *string:
		s, ok := v.(string)
		if !ok {
			d.problem(dotted, "%s is not a string; write it in quotes, like %s", describe(v), key.example)
			return false
		}
		*f = s
	case *int:
		n, ok := v.(int64)
		if !ok {
			d.problem(dotted, "%s is not a whole number; write it without quotes, like %s", describe(v), key.example)
			return false
		}
		*f = int(n)
	case *float64:
		switch n := v.(type) {
		case int64:
			*f = float64(n)
		case float64:
			*f = n
		default:
			d.problem(dotted, "%s is not a number; write it without quotes, like %s", describe(v), key.example)
			return false
		}
	case *bool:
		b, ok := v.(bool)
		if !ok {
			d.problem(dotted, "%s is not true or false; write it without quotes, like %s", describe(v), key.example)
			return false
		}
		*f = b
	case *time.Duration:
		s, ok := v.(string)
		if !ok {
			d.problem(dotted, "%s is not a duration; write it in quotes with a unit, like %s", describe(v), key.example)
			return false
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.problem(dotted, "%q is not a duration; use a value like %s (units: s, m, h)", s, key.example)
			return false
		}
		*f = dur
	default:
		panic(fmt.Sprintf("agent: config key %s has a field of unhandled type %T", dotted, f))
	}
	return true
}

// describe renders a TOML value for a message: strings quoted, tables and
// arrays by kind.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case map[string]any:
		return "a table"
	case []map[string]any, []any:
		return "an array"
	case float64:
		return fmt.Sprintf("%g", v)
	}
	return fmt.Sprint(v)
}

// resolvePaths makes the file's relative paths relative to dir, the folder of
// the file. Paths left at their defaults are absolute already, but for
// status.token_file, which lies next to the file; empty paths stay empty.
func (d *decoder) resolvePaths(dir string) {
	for _, p := range []*string{
		&d.cfg.Alipay.PrivateKeyFile,
		&d.cfg.Alipay.AlipayPublicKeyFile,
		&d.cfg.Storage.Path,
		&d.cfg.Log.File,
		&d.cfg.Status.TokenFile,
	} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}
