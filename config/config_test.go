package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/device"
)

// testdataDir returns the absolute folder of the test configuration files.
func testdataDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// configProblems loads the file and returns its problems, failing the test
// when the error is not a *Error.
func configProblems(t *testing.T, path string) []Problem {
	t.Helper()
	cfg, err := Load(path)
	if err == nil {
		t.Fatalf("Load(%s) = %+v, want an error", path, cfg)
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load(%s) error %T %v, want *Error", path, err, err)
	}
	return ce.Problems
}

// wantProblem is a problem expected on a line for a key, with a part of its
// message.
type wantProblem struct {
	line int
	key  string
	msg  string
}

func checkProblems(t *testing.T, got []Problem, want []wantProblem) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			t.Errorf("missing problem %d: line %d %s: %q", i, want[i].line, want[i].key, want[i].msg)
		case i >= len(want):
			t.Errorf("unexpected problem %d: %s", i, got[i])
		case got[i].Line != want[i].line || got[i].Key != want[i].key || !strings.Contains(got[i].Msg, want[i].msg):
			t.Errorf("problem %d = %s\nwant line %d %s: ...%s...", i, got[i], want[i].line, want[i].key, want[i].msg)
		}
	}
}

func TestLoadReadsEveryKey(t *testing.T) {
	dir := testdataDir(t)
	path := filepath.Join(dir, "good.toml")
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Path: path,
		Register: RegisterSection{
			Port:     "/dev/ttyUSB0",
			USB:      "0403:6001:A50285BI",
			Baud:     9600,
			Parity:   "even",
			StopBits: 2,
		},
		Alipay: AlipaySection{
			Endpoint:            "https://open-na-global.alipay.com",
			ClientID:            "SANDBOX_5X00000000000000",
			PrivateKeyFile:      filepath.Join(dir, "keys", "merchant_private_key.pem"),
			AlipayPublicKeyFile: "/etc/posagent/alipay_public_key.pem",
			KeyVersion:          2,
			MerchantAccountID:   "21812345678901234",
			Timeout:             20 * time.Second,
		},
		Polling: PollingSection{
			Interval:    2 * time.Second,
			CancelAfter: 90 * time.Second,
			MaxRPS:      2.5,
			AbsentGrace: 5 * time.Minute,
		},
		Storage: StorageSection{
			Path:      filepath.Join(dir, "data", "posagent.db"),
			Retention: 2160 * time.Hour,
		},
		Log: LogSection{Level: "debug", File: filepath.Join(dir, "posagent.log")},
		Status: StatusSection{Listen: "0.0.0.0:9000", AllowRemote: true, TokenFile: filepath.Join(dir, "keys", "status.token"),
			Store: "Shanghai Nanjing Rd 0042", Lane: "3"},
	}
	got.lines = nil // checked by the tests of problems after loading
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load(good.toml) =\n%+v\nwant\n%+v", got, want)
	}
}

func TestLoadFillsDefaults(t *testing.T) {
	dir := testdataDir(t)
	path := filepath.Join(dir, "minimal.toml")
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Path = path
	want.Register.Port = "COM3"
	want.Alipay.ClientID = "2188120000000000"
	want.Alipay.PrivateKeyFile = filepath.Join(dir, "merchant_private_key.pem")
	want.Alipay.AlipayPublicKeyFile = filepath.Join(dir, "alipay_public_key.pem")
	want.Status.TokenFile = filepath.Join(dir, "status.token")
	got.lines = nil
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("Load(minimal.toml) =\n%+v\nwant\n%+v", *got, want)
	}
}

func TestDefaultConfigMatchesDesign(t *testing.T) {
	c := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"register.baud", c.Register.Baud, 115200},
		{"register.parity", c.Register.Parity, "none"},
		{"register.stop_bits", c.Register.StopBits, 1},
		{"alipay.endpoint", c.Alipay.Endpoint, "https://open-sea-global.alipay.com"},
		{"alipay.key_version", c.Alipay.KeyVersion, 1},
		{"alipay.timeout", c.Alipay.Timeout, 15 * time.Second},
		{"polling.interval", c.Polling.Interval, 3 * time.Second},
		{"polling.cancel_after", c.Polling.CancelAfter, 60 * time.Second},
		{"polling.max_rps", c.Polling.MaxRPS, 5.0},
		{"storage.path is absolute", filepath.IsAbs(c.Storage.Path), true},
		{"storage.path name", filepath.Base(c.Storage.Path), "posagent.db"},
		{"storage.retention", c.Storage.Retention, 720 * time.Hour},
		{"log.level", c.Log.Level, "info"},
		{"log.file", c.Log.File, ""},
		{"status.listen", c.Status.Listen, "127.0.0.1:8765"},
		{"status.allow_remote", c.Status.AllowRemote, false},
		{"status.token_file, next to the configuration file", c.Status.TokenFile, "status.token"},
		{"default path name", filepath.Base(DefaultPath()), "posagent.toml"},
		{"default path is absolute", filepath.IsAbs(DefaultPath()), true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestLoadFindsPortByUSB(t *testing.T) {
	cfg, err := Load(filepath.Join(testdataDir(t), "auto.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Register.Port != device.PortAuto || cfg.Register.USB != "0403:6001" {
		t.Errorf("register = %+v, want port auto and usb 0403:6001", cfg.Register)
	}
}

func TestLoadReportsEveryBadValue(t *testing.T) {
	got := configProblems(t, filepath.Join(testdataDir(t), "bad.toml"))
	checkProblems(t, got, []wantProblem{
		{3, "register.port", `3 is not a string; write it in quotes`},
		{4, "register.usb", `"403:6001" has a VID or PID that is not 4 hex digits`},
		{5, "register.baud", "9601 is not a standard serial rate; use one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200"},
		{6, "register.parity", `"mark" is not a parity; use "none", "even" or "odd"`},
		{7, "register.stop_bits", "3 is not allowed; use 1 or 2"},
		{10, "alipay.endpoint", "uses http, which is allowed only for loopback test servers; use https"},
		{11, "alipay.client_id", "contains blanks or control characters"},
		{12, "alipay.private_key_file", "an array is not a string"},
		{13, "alipay.alipay_public_key_file", "1 is not a string"},
		{14, "alipay.key_version", "0 is not a key version"},
		{15, "alipay.merchant_account_id", "21812345678901234 is not a string"},
		{16, "alipay.timeout", "1m30s is out of range; use a duration from 1s to 1m"},
		{19, "polling.interval", `"3x" is not a duration; use a value like "3s"`},
		{20, "polling.cancel_after", `60 is not a duration; write it in quotes with a unit, like "60s"`},
		{21, "polling.max_rps", `"fast" is not a number`},
		{24, "storage.path", "is empty"},
		{25, "storage.retention", "30m is too short"},
		{28, "log.level", `"verbose" is not a log level; use "debug", "info", "warn" or "error"`},
		{29, "log.file", "false is not a string"},
		{32, "status.listen", `"0.0.0.0:8765" is not a loopback address`},
		{33, "status.allow_remote", `"no" is not true or false`},
		{34, "status.store", `"Nanjing\tRd" contains characters that do not show`},
		{35, "status.lane", `" 3" starts or ends with a space`},
	})
}

func TestLoadRefusesUnknownKeys(t *testing.T) {
	got := configProblems(t, filepath.Join(testdataDir(t), "unknown.toml"))
	checkProblems(t, got, []wantProblem{
		{1, "loglevel", "unknown section or key; the sections are [register], [alipay], [polling], [storage], [log], [status]"},
		{5, "register.speed", "unknown key; the keys of [register] are port, usb, baud, parity, stop_bits"},
		{12, "alipay.extra", "unknown key; the keys of [alipay] are endpoint,"},
		{16, "polling.max rps", "unknown key; the keys of [polling] are interval, cancel_after, max_rps"},
		{18, "metrics", "unknown section or key"},
	})
}

func TestLoadReportsSyntaxErrorLine(t *testing.T) {
	path := filepath.Join(testdataDir(t), "syntax.toml")
	got := configProblems(t, path)
	checkProblems(t, got, []wantProblem{{5, "", "not valid TOML"}})
	if s := got[0].String(); !strings.HasPrefix(s, path+":5: not valid TOML: ") {
		t.Errorf("problem = %q, want it to start with the file and line", s)
	}
}

func TestLoadNamesMissingRequiredKeys(t *testing.T) {
	got := configProblems(t, filepath.Join(testdataDir(t), "missing.toml"))
	checkProblems(t, got, []wantProblem{
		{0, "register.port", "missing; set the register's serial port"},
		{0, "alipay.client_id", "missing; set the Client ID"},
		{0, "alipay.private_key_file", "missing"},
		{0, "alipay.alipay_public_key_file", "missing"},
	})
}

func TestLoadRequiresUSBForAutoPort(t *testing.T) {
	got := configProblems(t, filepath.Join(testdataDir(t), "auto_without_usb.toml"))
	checkProblems(t, got, []wantProblem{{0, "register.usb", `required when register.port is "auto"`}})
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posagent.toml")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "-config") {
		t.Errorf("error %q should name the file and say how to name another", err)
	}
}

// docWith returns a valid minimal configuration in which each dotted key of
// kv (pairs of key and raw TOML value) is set or replaced, and the line of
// the last of them.
func docWith(kv ...string) (doc string, line int) {
	var sections []string
	values := map[string][][2]string{}
	add := func(key, val string) {
		sec, name, _ := strings.Cut(key, ".")
		if _, ok := values[sec]; !ok {
			sections = append(sections, sec)
		}
		for i, e := range values[sec] {
			if e[0] == name {
				values[sec][i][1] = val
				return
			}
		}
		values[sec] = append(values[sec], [2]string{name, val})
	}
	add("register.port", `"/dev/ttyUSB0"`)
	add("alipay.client_id", `"2188120000000000"`)
	add("alipay.private_key_file", `"merchant_private_key.pem"`)
	add("alipay.alipay_public_key_file", `"alipay_public_key.pem"`)
	for i := 0; i < len(kv); i += 2 {
		add(kv[i], kv[i+1])
	}
	last, _, _ := strings.Cut(kv[len(kv)-2], ".")
	lastName := kv[len(kv)-2][len(last)+1:]
	var b strings.Builder
	n := 0
	for _, sec := range sections {
		fmt.Fprintf(&b, "[%s]\n", sec)
		n++
		for _, e := range values[sec] {
			fmt.Fprintf(&b, "%s = %s\n", e[0], e[1])
			n++
			if sec == last && e[0] == lastName {
				line = n
			}
		}
	}
	return b.String(), line
}

func TestParseRefusesBadValue(t *testing.T) {
	tests := []struct {
		key, value string
		msg        string
	}{
		{"register.port", `""`, "is empty; set the register's serial port"},
		{"register.usb", `"0403"`, "is not a USB identity"},
		{"register.usb", `"0403:60g1"`, "not 4 hex digits"},
		{"register.usb", `"0403:6001:"`, "has an empty serial number"},
		{"register.baud", `115201`, "not a standard serial rate"},
		{"register.baud", `"9600"`, "is not a whole number; write it without quotes"},
		{"register.parity", `"space"`, "is not a parity"},
		{"register.stop_bits", `0`, "use 1 or 2"},
		{"register.stop_bits", `1.5`, "1.5 is not a whole number"},
		{"alipay.endpoint", `"ftp://open-sea-global.alipay.com"`, "must start with https://"},
		{"alipay.endpoint", `"open-sea-global.alipay.com"`, "is not a URL"},
		{"alipay.endpoint", `"https://"`, "is not a URL"},
		{"alipay.endpoint", `"http://10.0.0.1:8080"`, "uses http"},
		{"alipay.endpoint", `"http://localhost.example.com"`, "uses http"},
		{"alipay.endpoint", `"https://open-sea-global.alipay.com/ams/api"`, "scheme and host alone"},
		{"alipay.endpoint", `"https://open-sea-global.alipay.com?x=1"`, "scheme and host alone"},
		{"alipay.endpoint", `"https://user:pw@open-sea-global.alipay.com"`, "scheme and host alone"},
		{"alipay.client_id", `""`, "is empty; set the Client ID"},
		{"alipay.client_id", `"abc\tdef"`, "blanks or control characters"},
		{"alipay.private_key_file", `""`, "is empty; set the file"},
		{"alipay.alipay_public_key_file", `""`, "is empty; set the file"},
		{"alipay.key_version", `-1`, "not a key version"},
		{"alipay.merchant_account_id", `"a\nb"`, "control characters"},
		{"alipay.timeout", `"999ms"`, "out of range; use a duration from 1s to 1m"},
		{"alipay.timeout", `"61s"`, "out of range"},
		{"alipay.timeout", `"15"`, `"15" is not a duration`},
		{"polling.interval", `"500ms"`, "out of range; use a duration from 1s to 1m"},
		{"polling.interval", `"2m"`, "out of range"},
		{"polling.interval", `15`, "write it in quotes with a unit"},
		{"polling.cancel_after", `"9s"`, "out of range; use a duration from 10s to 24h"},
		{"polling.cancel_after", `"25h"`, "out of range"},
		{"polling.cancel_after", `"1d"`, `"1d" is not a duration`},
		{"polling.max_rps", `0`, "0 is out of range; use a number of calls per second from 0.1 to 100"},
		{"polling.max_rps", `-1`, "out of range"},
		{"polling.max_rps", `100.5`, "out of range"},
		{"polling.max_rps", `nan`, "out of range"},
		{"polling.max_rps", `inf`, "out of range"},
		{"polling.absent_grace", `"59s"`, "out of range; use a duration from 1m to 1h"},
		{"polling.absent_grace", `"61m"`, "out of range"},
		{"storage.path", `""`, "is empty"},
		{"storage.retention", `"59m"`, "too short"},
		{"storage.retention", `"-720h"`, "too short"},
		{"log.level", `"trace"`, "not a log level"},
		{"log.file", `1`, "not a string"},
		{"status.listen", `"8765"`, "not a host:port address"},
		{"status.listen", `"127.0.0.1"`, "not a host:port address"},
		{"status.listen", `"127.0.0.1:0"`, "not a host:port address"},
		{"status.listen", `"127.0.0.1:70000"`, "not a host:port address"},
		{"status.listen", `"127.0.0.1:http"`, "not a host:port address"},
		{"status.listen", `":8765"`, "not a loopback address"},
		{"status.listen", `"192.168.1.10:8765"`, "not a loopback address"},
		{"status.listen", `"[::]:8765"`, "not a loopback address"},
		{"status.listen", `"pos1.local:8765"`, "not a loopback address"},
		{"status.allow_remote", `1`, "not true or false"},
		{"status.token_file", `1`, "not a string"},
		{"status.store", `42`, "42 is not a string; write it in quotes"},
		{"status.store", `"` + strings.Repeat("x", 65) + `"`, "is too long; use at most 64 characters"},
		{"status.store", `"Nanjing Rd\u00a0042"`, "contains characters that do not show"},
		{"status.store", `"0042 "`, "starts or ends with a space"},
		{"status.lane", `"3\n"`, "contains characters that do not show"},
		{"status.lane", `"\u200b3"`, "contains characters that do not show"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			doc, line := docWith(tt.key, tt.value)
			cfg, err := Parse("posagent.toml", []byte(doc))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse = %+v, %v; want a *Error\n%s", cfg, err, doc)
			}
			checkProblems(t, ce.Problems, []wantProblem{{line, tt.key, tt.msg}})
		})
	}
}

func TestParseAcceptsEdgeValues(t *testing.T) {
	tests := []struct {
		key, value string
		check      func(*Config) bool
	}{
		{"register.port", `"auto"`, nil}, // with usb below
		{"register.usb", `"0403:6001"`, func(c *Config) bool { return c.Register.USB == "0403:6001" }},
		{"register.usb", `"10C4:EA60:0001AbC"`, func(c *Config) bool { return c.Register.USB == "10c4:ea60:0001AbC" }},
		{"register.baud", `1200`, func(c *Config) bool { return c.Register.Baud == 1200 }},
		{"register.parity", `"Odd"`, func(c *Config) bool { return c.Register.Parity == "odd" }},
		{"alipay.endpoint", `"https://open-de-global.alipay.com/"`, func(c *Config) bool { return c.Alipay.Endpoint == "https://open-de-global.alipay.com" }},
		{"alipay.endpoint", `"http://127.0.0.1:41234"`, func(c *Config) bool { return c.Alipay.Endpoint == "http://127.0.0.1:41234" }},
		{"alipay.endpoint", `"http://127.8.9.10"`, nil},
		{"alipay.endpoint", `"http://[::1]:8080"`, nil},
		{"alipay.endpoint", `"http://LOCALHOST:8080"`, nil},
		{"alipay.timeout", `"1s"`, func(c *Config) bool { return c.Alipay.Timeout == time.Second }},
		{"alipay.timeout", `"1m"`, nil},
		{"polling.interval", `"1s"`, nil},
		{"polling.cancel_after", `"24h"`, func(c *Config) bool { return c.Polling.CancelAfter == 24*time.Hour }},
		{"polling.max_rps", `0.1`, func(c *Config) bool { return c.Polling.MaxRPS == 0.1 }},
		{"polling.max_rps", `100`, func(c *Config) bool { return c.Polling.MaxRPS == 100 }},
		{"polling.absent_grace", `"1m"`, func(c *Config) bool { return c.Polling.AbsentGrace == time.Minute }},
		{"polling.absent_grace", `"1h"`, func(c *Config) bool { return c.Polling.AbsentGrace == time.Hour }},
		{"storage.path", `"/srv/pos/p.db"`, func(c *Config) bool { return c.Storage.Path == "/srv/pos/p.db" }},
		{"storage.retention", `"1h"`, nil},
		{"log.level", `"WARN"`, func(c *Config) bool { return c.Log.Level == "warn" }},
		{"status.listen", `""`, func(c *Config) bool { return c.Status.Listen == "" }},
		{"status.listen", `"[::1]:8765"`, nil},
		{"status.listen", `"localhost:8765"`, nil},
		{"status.listen", `"127.0.0.2:1"`, nil},
		{"status.store", `""`, func(c *Config) bool { return c.Status.Store == "" }},
		{"status.store", `"` + strings.Repeat("店", 64) + `"`, func(c *Config) bool { return c.Status.Store == strings.Repeat("店", 64) }},
		{"status.store", `"Nanjing Rd #0042 (Shanghai)"`, func(c *Config) bool { return c.Status.Store == "Nanjing Rd #0042 (Shanghai)" }},
		{"status.lane", `"Express 1"`, func(c *Config) bool { return c.Status.Lane == "Express 1" }},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			kv := []string{tt.key, tt.value}
			if tt.key == "register.port" {
				kv = append(kv, "register.usb", `"0403:6001"`)
			}
			doc, _ := docWith(kv...)
			cfg, err := Parse("posagent.toml", []byte(doc))
			if err != nil {
				t.Fatalf("Parse:\n%v\n%s", err, doc)
			}
			if tt.check != nil && !tt.check(cfg) {
				t.Errorf("%s = %s gave %+v", tt.key, tt.value, cfg)
			}
		})
	}
}

func TestParseChecksIntervalAgainstCancelAfter(t *testing.T) {
	doc, _ := docWith("polling.interval", `"30s"`, "polling.cancel_after", `"30s"`)
	_, err := Parse("posagent.toml", []byte(doc))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Parse = %v, want a *Error", err)
	}
	checkProblems(t, ce.Problems, []wantProblem{{8, "polling.interval", "30s is not shorter than polling.cancel_after (30s)"}})
}

func TestParseNamesLineOfDottedKey(t *testing.T) {
	doc := strings.Join([]string{
		`register.port = "/dev/ttyUSB0"`,
		`alipay.client_id = "2188120000000000"`,
		`alipay.private_key_file = "k.pem"`,
		`alipay.alipay_public_key_file = "p.pem"`,
		`polling . "interval" = "3x"`,
	}, "\n")
	_, err := Parse("posagent.toml", []byte(doc))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Parse = %v, want a *Error", err)
	}
	checkProblems(t, ce.Problems, []wantProblem{{5, "polling.interval", `"3x" is not a duration`}})
}

func TestParseRefusesSectionThatIsNotATable(t *testing.T) {
	doc := "log = \"debug\"\n[register]\nport = \"COM1\"\n"
	_, err := Parse("posagent.toml", []byte(doc))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Parse = %v, want a *Error", err)
	}
	if p := ce.Problems[0]; p.Line != 1 || p.Key != "log" || !strings.Contains(p.Msg, "must be a table, written as a [log] header") {
		t.Errorf("first problem = %s", p)
	}
}

func TestErrorListsOneProblemPerLine(t *testing.T) {
	e := &Error{Problems: []Problem{
		{File: "posagent.toml", Line: 14, Key: "polling.interval", Msg: `"3x" is not a duration; use a value like "3s"`},
		{File: "posagent.toml", Key: "alipay.client_id", Msg: "missing"},
		{File: "posagent.toml", Line: 2, Msg: "not valid TOML: x"},
	}}
	want := `posagent.toml:14: polling.interval: "3x" is not a duration; use a value like "3s"` + "\n" +
		"posagent.toml: alipay.client_id: missing\n" +
		"posagent.toml:2: not valid TOML: x"
	if got := e.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

func TestResolveConfigPath(t *testing.T) {
	env := func(v string) func(string) string {
		return func(name string) string {
			if name == Env {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		name, flag, env, want string
	}{
		{"flag wins over env", "/a/flag.toml", "/b/env.toml", "/a/flag.toml"},
		{"env without flag", "", "/b/env.toml", "/b/env.toml"},
		{"default without either", "", "", DefaultPath()},
		{"relative flag kept", "local.toml", "", "local.toml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ResolvePath(tt.flag, env(tt.env)); got != tt.want {
				t.Errorf("ResolvePath(%q, env %q) = %q, want %q", tt.flag, tt.env, got, tt.want)
			}
		})
	}
}

func TestKeyLines(t *testing.T) {
	doc := strings.Join([]string{
		`# comment = 1`,             // 1
		`top = 1`,                   // 2
		`[alipay]`,                  // 3
		`  client_id = "x" # note`,  // 4
		`"quoted key" = 'v'`,        // 5
		`multi = """`,               // 6
		`fake = "inside a string"`,  // 7
		`"""`,                       // 8
		`list = [`,                  // 9
		`  "a",`,                    // 10
		`]`,                         // 11
		`[ polling ]`,               // 12
		`interval="3s"`,             // 13
		`[[arr.of]]`,                // 14
		`x.y = 2`,                   // 15
		`lit = '''one ''' # closed`, // 16
		`after = 1`,                 // 17
		`"esc\"aped" = 1`,           // 18
		`[section."with.dot"]`,      // 19
		`k = 1`,                     // 20
	}, "\n")
	want := map[string]int{
		"top":                2,
		"alipay":             3,
		"alipay.client_id":   4,
		"alipay.quoted key":  5,
		"alipay.multi":       6,
		"alipay.list":        9,
		"polling":            12,
		"polling.interval":   13,
		"arr":                14,
		"arr.of":             14,
		"arr.of.x":           15,
		"arr.of.x.y":         15,
		"arr.of.lit":         16,
		"arr.of.after":       17,
		`arr.of.esc"aped`:    18,
		"section":            19,
		"section.with.dot":   19,
		"section.with.dot.k": 20,
	}
	got := keyLines(doc)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("keyLines =\n%v\nwant\n%v", got, want)
	}
}

// TestConfigWarnsOfCancelAfterPastTheCancelWindow: a polling.cancel_after
// longer than the shortest cancel window less cancelMargin is allowed, but
// warned about, at its line: payments accepted shortly before midnight UTC+8
// get a shorter deadline.
func TestConfigWarnsOfCancelAfterPastTheCancelWindow(t *testing.T) {
	tests := []struct {
		value string // "" leaves the key out
		warn  bool
	}{
		{"", false},
		{`"60s"`, false},
		{`"13m"`, false},
		{`"13m1s"`, true},
		{`"15m"`, true},
		{`"24h"`, true},
	}
	for _, tt := range tests {
		t.Run("cancel_after="+tt.value, func(t *testing.T) {
			kv := []string{"polling.interval", `"3s"`}
			if tt.value != "" {
				kv = []string{"polling.cancel_after", tt.value}
			}
			doc, line := docWith(kv...)
			cfg, err := Parse("posagent.toml", []byte(doc))
			if err != nil {
				t.Fatalf("a warning made the file fail: %v", err)
			}
			ws := cfg.Warnings()
			if !tt.warn {
				if len(ws) != 0 {
					t.Fatalf("warnings %v, want none", ws)
				}
				return
			}
			if len(ws) != 1 {
				t.Fatalf("warnings %v, want one", ws)
			}
			w := ws[0]
			if w.Key != "polling.cancel_after" || w.Line != line || !strings.Contains(w.Msg, "before midnight UTC+8") || !strings.Contains(w.Msg, "use 13m or less") {
				t.Errorf("warning %+v, want one at line %d about polling.cancel_after saying what to use", w, line)
			}
		})
	}
}
