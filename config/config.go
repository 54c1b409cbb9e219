package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/posagent/posagent/device"
)

// Config is the posagent configuration file, the contract with technicians
// described in docs/design.md. Each section of the TOML file is one field; the toml
// tags name the keys. A Config returned by Load is complete (defaults
// filled in), valid, and holds absolute paths.
type Config struct {
	// Path is the file the configuration was read from; empty for Default.
	Path string `toml:"-"`

	Register RegisterSection `toml:"register"`
	Alipay   AlipaySection   `toml:"alipay"`
	Polling  PollingSection  `toml:"polling"`
	Storage  StorageSection  `toml:"storage"`
	Log      LogSection      `toml:"log"`
	Status   StatusSection   `toml:"status"`

	// lines maps the dotted keys of the file to their lines, so that
	// problems found after loading (such as an unreadable key file) can
	// point at the line too.
	lines map[string]int
}

// RegisterSection is the [register] section: the serial line to the register.
type RegisterSection struct {
	Port     string `toml:"port"`      // device name such as /dev/ttyUSB0 or COM3, or device.PortAuto
	USB      string `toml:"usb"`       // "VID:PID" or "VID:PID:SERIAL", VID and PID lower-cased
	Baud     int    `toml:"baud"`      // a standard rate from 1200 to 115200
	Parity   string `toml:"parity"`    // none, even or odd
	StopBits int    `toml:"stop_bits"` // 1 or 2
}

// PortConfig returns the [register] section as the device package takes it.
func (r RegisterSection) PortConfig() device.PortConfig {
	return device.PortConfig{Path: r.Port, USB: r.USB, Baud: r.Baud, Parity: r.Parity, StopBits: r.StopBits}
}

// AlipaySection is the [alipay] section: the merchant's Alipay AMS account.
type AlipaySection struct {
	Endpoint            string        `toml:"endpoint"`
	ClientID            string        `toml:"client_id"`
	PrivateKeyFile      string        `toml:"private_key_file"`
	AlipayPublicKeyFile string        `toml:"alipay_public_key_file"`
	KeyVersion          int           `toml:"key_version"`
	MerchantAccountID   string        `toml:"merchant_account_id"`
	Timeout             time.Duration `toml:"timeout"` // per call
}

// PollingSection is the [polling] section: how often and how long payments are
// asked about.
type PollingSection struct {
	Interval    time.Duration `toml:"interval"`     // between two inquiries of one payment
	CancelAfter time.Duration `toml:"cancel_after"` // from acceptance to cancel
	MaxRPS      float64       `toml:"max_rps"`      // Alipay calls per second, all payments together
	// AbsentGrace is how long, after a refused cancel, every verified
	// answer must have been ORDER_NOT_EXIST before the payment ends FAIL.
	AbsentGrace time.Duration `toml:"absent_grace"`
}

// StorageSection is the [storage] section: the payment store.
type StorageSection struct {
	Path      string        `toml:"path"`
	Retention time.Duration `toml:"retention"` // how long delivered payments are kept
}

// LogSection is the [log] section.
type LogSection struct {
	Level string `toml:"level"` // debug, info, warn or error
	File  string `toml:"file"`  // empty: standard error
}

// StatusSection is the [status] section: the status and metrics endpoint.
type StatusSection struct {
	Listen      string `toml:"listen"`       // host:port, or empty to turn the endpoint off
	AllowRemote bool   `toml:"allow_remote"` // permit a listen address that is not loopback
	// TokenFile holds the bearer token a listen address that is not
	// loopback demands of every request but /healthz.
	TokenFile string `toml:"token_file"`
	// Store and Lane name the store and the checkout lane the terminal
	// serves, as head office names them; /metrics carries them in
	// posagent_info so that a fleet's dashboards and alerts can tell
	// terminals apart. Empty when not set.
	Store string `toml:"store"`
	Lane  string `toml:"lane"`
}

// Defaults for every key that has one. Paths that depend on the platform come
// from platformDefaults (dirs_unix.go, dirs_windows.go).
const (
	defaultEndpoint    = "https://open-sea-global.alipay.com"
	defaultTimeout     = 15 * time.Second
	defaultInterval    = 3 * time.Second
	defaultCancelAfter = 60 * time.Second
	defaultMaxRPS      = 5
	defaultAbsentGrace = 2 * time.Minute
	defaultRetention   = 720 * time.Hour
	defaultStatus      = "127.0.0.1:8765"
	// defaultTokenFile is relative, so it lies next to the configuration
	// file: /etc/posagent/status.token where the packages put it.
	defaultTokenFile = "status.token"
)

// platformDirs are the folders posagent uses by default, given for each
// platform by platformDefaults.
type platformDirs struct {
	config string // holds posagent.toml
	data   string // holds the payment store
}

// Default returns the configuration used for every key the file leaves
// out. Its register.port, alipay.client_id and key files are empty: those have
// no sensible default and Load requires them. Its status.token_file is
// relative: Load takes it in the configuration file's folder.
func Default() Config {
	dirs := platformDefaults()
	return Config{
		Register: RegisterSection{
			Baud:     115200,
			Parity:   "none",
			StopBits: 1,
		},
		Alipay: AlipaySection{
			Endpoint:   defaultEndpoint,
			KeyVersion: 1,
			Timeout:    defaultTimeout,
		},
		Polling: PollingSection{
			Interval:    defaultInterval,
			CancelAfter: defaultCancelAfter,
			MaxRPS:      defaultMaxRPS,
			AbsentGrace: defaultAbsentGrace,
		},
		Storage: StorageSection{
			Path:      filepath.Join(dirs.data, "posagent.db"),
			Retention: defaultRetention,
		},
		Log:    LogSection{Level: "info"},
		Status: StatusSection{Listen: defaultStatus, TokenFile: defaultTokenFile},
	}
}

// DefaultPath returns where posagent looks for its configuration when
// neither -config nor POSAGENT_CONFIG names a file.
func DefaultPath() string {
	return filepath.Join(platformDefaults().config, "posagent.toml")
}

// Env is the environment variable that names the configuration file
// when no -config flag is given.
const Env = "POSAGENT_CONFIG"

// ResolvePath picks the configuration file: the -config flag value if
// given, else the POSAGENT_CONFIG environment variable (read with getenv),
// else DefaultPath.
func ResolvePath(flagValue string, getenv func(string) string) string {
	if flagValue != "" {
		return flagValue
	}
	if p := getenv(Env); p != "" {
		return p
	}
	return DefaultPath()
}

// Load reads, completes and checks the configuration file at path.
// Keys the file leaves out take their Default value, and relative paths
// in the file are taken relative to the file's folder.
//
// A file that cannot be read gives an error wrapping the *fs.PathError. A file
// with any problem in it gives a *Error listing every problem found, one
// per key, so a technician can fix them all in one go.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config file %s does not exist; create it or name another with -config or %s: %w", path, Env, err)
		}
		return nil, fmt.Errorf("cannot read config file %s; check its permissions: %w", path, err)
	}
	return Parse(path, data)
}

// Parse is Load for a file already read: data is the content of
// the file at path. path names the file in problems and anchors relative paths.
func Parse(path string, data []byte) (*Config, error) {
	var raw map[string]any
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		return nil, &Error{Problems: []Problem{syntaxProblem(path, err)}}
	}
	d := decoder{
		file:  path,
		lines: keyLines(string(data)),
		cfg:   Default(),
	}
	d.cfg.Path = path
	d.decode(md, raw)
	d.resolvePaths(absDir(path))
	d.validate()
	if len(d.problems) > 0 {
		return nil, &Error{Problems: sortProblems(d.problems)}
	}
	cfg := d.cfg
	cfg.lines = d.lines
	return &cfg, nil
}

// absDir returns the absolute folder of the file at path, or its folder as
// written when the working directory cannot be found.
func absDir(path string) string {
	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// syntaxProblem turns the TOML parser's error into a Problem at its line.
func syntaxProblem(path string, err error) Problem {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return Problem{
			File: path,
			Line: pe.Position.Line,
			Msg:  "not valid TOML: " + pe.Message + "; fix the syntax on this line",
		}
	}
	return Problem{File: path, Msg: "not valid TOML: " + err.Error()}
}
