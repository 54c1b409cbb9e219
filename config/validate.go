package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/posagent/posagent/device"
)

// Limits on values, chosen so that a typo cannot make the agent hammer
// Alipay, give up on payments at once, or wait forever.
const (
	minTimeout     = 1 * time.Second
	maxTimeout     = 60 * time.Second
	minInterval    = 1 * time.Second
	maxInterval    = 60 * time.Second
	minCancelAfter = 10 * time.Second
	maxCancelAfter = 24 * time.Hour
	minMaxRPS      = 0.1
	maxMaxRPS      = 100
	minRetention   = 1 * time.Hour
	minAbsentGrace = 1 * time.Minute
	maxAbsentGrace = 1 * time.Hour
)

// standardBauds returns the serial rates a register may use.
func standardBauds() []int {
	return []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200}
}

// validate checks the decoded configuration, recording a problem for each
// value outside what is allowed and each required key left out. Keys whose
// value could not be decoded are not checked again. Values with a canonical
// spelling (parity, level, USB ids, the endpoint) are normalized on the way.
func (d *decoder) validate() {
	d.validateRegister()
	d.validateAlipay()
	d.validatePolling()
	d.validateStorage()
	d.validateLog()
	d.validateStatus()
}

// required records that key, which has no default, is missing from the file
// or empty in it, and what to set it to.
func (d *decoder) required(key, hint string) {
	if _, inFile := d.lines[key]; inFile {
		d.problem(key, "is empty; %s", hint)
		return
	}
	d.problem(key, "missing; %s", hint)
}

// failed reports whether key was given a value that could not be decoded; it
// has its problem already.
func (d *decoder) failed(key string) bool {
	_, inFile := d.lines[key]
	return inFile && !d.set[key]
}

func (d *decoder) validateRegister() {
	r := &d.cfg.Register
	if strings.EqualFold(r.Port, device.PortAuto) {
		r.Port = device.PortAuto
	}
	switch {
	case d.failed("register.port"):
	case strings.TrimSpace(r.Port) == "":
		d.required("register.port", `set the register's serial port, like "/dev/ttyUSB0" or "COM3", or "auto" together with register.usb`)
	case r.Port == device.PortAuto && r.USB == "" && !d.failed("register.usb"):
		d.problem("register.usb", `required when register.port is "auto"; set the adapter's "VID:PID" or "VID:PID:SERIAL" as shown by posagent ports`)
	}
	if r.USB != "" {
		usb, err := normalizeUSB(r.USB)
		if err != nil {
			d.problem("register.usb", "%q %v", r.USB, err)
		} else {
			r.USB = usb
		}
	}
	if !slices.Contains(standardBauds(), r.Baud) {
		d.problem("register.baud", "%d is not a standard serial rate; use one of %s", r.Baud, joinInts(standardBauds()))
	}
	if p := strings.ToLower(r.Parity); p == "none" || p == "even" || p == "odd" {
		r.Parity = p
	} else {
		d.problem("register.parity", `%q is not a parity; use "none", "even" or "odd"`, r.Parity)
	}
	if r.StopBits != 1 && r.StopBits != 2 {
		d.problem("register.stop_bits", "%d is not allowed; use 1 or 2", r.StopBits)
	}
}

// normalizeUSB checks a "VID:PID" or "VID:PID:SERIAL" identity and returns it
// with VID and PID in lower case; the serial number is kept as written.
func normalizeUSB(s string) (string, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) < 2 {
		return "", fmt.Errorf(`is not a USB identity; use "VID:PID" or "VID:PID:SERIAL" with 4 hex digits each for VID and PID, like "0403:6001"`)
	}
	for _, id := range parts[:2] {
		if len(id) != 4 || strings.Trim(id, "0123456789abcdefABCDEF") != "" {
			return "", fmt.Errorf(`has a VID or PID that is not 4 hex digits; use "VID:PID" or "VID:PID:SERIAL", like "0403:6001"`)
		}
	}
	if len(parts) == 3 && strings.TrimSpace(parts[2]) == "" {
		return "", fmt.Errorf(`has an empty serial number; leave out the last ":" or give the serial number shown by posagent ports`)
	}
	parts[0], parts[1] = strings.ToLower(parts[0]), strings.ToLower(parts[1])
	return strings.Join(parts, ":"), nil
}

func (d *decoder) validateAlipay() {
	a := &d.cfg.Alipay
	if !d.failed("alipay.endpoint") {
		if ep, err := checkEndpoint(a.Endpoint); err != nil {
			d.problem("alipay.endpoint", "%q %v", a.Endpoint, err)
		} else {
			a.Endpoint = ep
		}
	}
	switch {
	case d.failed("alipay.client_id"):
	case a.ClientID == "":
		d.required("alipay.client_id", `set the Client ID from the Antom portal, like client_id = "SANDBOX_5X00000000000000"`)
	case strings.IndexFunc(a.ClientID, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		d.problem("alipay.client_id", "%q contains blanks or control characters; copy the Client ID exactly as the Antom portal shows it", a.ClientID)
	}
	if a.PrivateKeyFile == "" && !d.failed("alipay.private_key_file") {
		d.required("alipay.private_key_file", `set the file holding the merchant's RSA private key, like private_key_file = "merchant_private_key.pem"`)
	}
	if a.AlipayPublicKeyFile == "" && !d.failed("alipay.alipay_public_key_file") {
		d.required("alipay.alipay_public_key_file", `set the file holding Alipay's RSA public key, like alipay_public_key_file = "alipay_public_key.pem"`)
	}
	if a.KeyVersion < 1 {
		d.problem("alipay.key_version", "%d is not a key version; use the version from the Antom portal, 1 or more", a.KeyVersion)
	}
	if strings.IndexFunc(a.MerchantAccountID, unicode.IsControl) >= 0 {
		d.problem("alipay.merchant_account_id", "%q contains control characters; copy it exactly as Alipay issued it", a.MerchantAccountID)
	}
	d.checkRange("alipay.timeout", a.Timeout, minTimeout, maxTimeout)
}

// checkEndpoint accepts an https URL with a host and no path, query or
// credentials, or an http one whose host is loopback (for test servers), and
// returns it without a trailing slash.
func checkEndpoint(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf(`is not a URL; use the Alipay domain, like "https://open-sea-global.alipay.com"`)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
	case u.Scheme == "http":
		return "", fmt.Errorf(`uses http, which is allowed only for loopback test servers; use https`)
	default:
		return "", fmt.Errorf(`must start with https://, like "https://open-sea-global.alipay.com"`)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf(`must be the scheme and host alone, like "https://open-sea-global.alipay.com"; posagent adds the API path itself`)
	}
	u.Path = ""
	return u.String(), nil
}

func (d *decoder) validatePolling() {
	p := d.cfg.Polling
	okInterval := d.checkRange("polling.interval", p.Interval, minInterval, maxInterval)
	okCancel := d.checkRange("polling.cancel_after", p.CancelAfter, minCancelAfter, maxCancelAfter)
	if okInterval && okCancel && p.Interval >= p.CancelAfter {
		d.problem("polling.interval", "%s is not shorter than polling.cancel_after (%s), so a payment would be cancelled before it is asked about twice; make it shorter", fmtDuration(p.Interval), fmtDuration(p.CancelAfter))
	}
	d.checkRange("polling.absent_grace", p.AbsentGrace, minAbsentGrace, maxAbsentGrace)
	// Written so that NaN, which compares false with everything, is refused.
	if !d.failed("polling.max_rps") && !(p.MaxRPS >= minMaxRPS && p.MaxRPS <= maxMaxRPS) {
		d.problem("polling.max_rps", "%g is out of range; use a number of calls per second from %g to %d", p.MaxRPS, minMaxRPS, maxMaxRPS)
	}
}

func (d *decoder) validateStorage() {
	s := d.cfg.Storage
	if s.Path == "" && !d.failed("storage.path") {
		d.problem("storage.path", `is empty; set the payment store's file, like "posagent.db", or leave the key out for the default`)
	}
	if !d.failed("storage.retention") && s.Retention < minRetention {
		d.problem("storage.retention", "%s is too short; keep delivered payments at least 1h, like %q", fmtDuration(s.Retention), "720h")
	}
}

func (d *decoder) validateLog() {
	l := &d.cfg.Log
	switch lv := strings.ToLower(l.Level); lv {
	case "debug", "info", "warn", "error":
		l.Level = lv
	default:
		if !d.failed("log.level") {
			d.problem("log.level", `%q is not a log level; use "debug", "info", "warn" or "error"`, l.Level)
		}
	}
}

func (d *decoder) validateStatus() {
	s := d.cfg.Status
	d.checkLabel("status.store", s.Store)
	d.checkLabel("status.lane", s.Lane)
	if s.Listen == "" || d.failed("status.listen") {
		return
	}
	host, port, err := net.SplitHostPort(s.Listen)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 {
		d.problem("status.listen", `%q is not a host:port address; use one like "127.0.0.1:8765", or "" to turn the endpoint off`, s.Listen)
		return
	}
	switch {
	case isLoopbackHost(host):
	case !s.AllowRemote:
		d.problem("status.listen", `%q is not a loopback address; the status endpoint shows payment details, so listen on 127.0.0.1, or set status.allow_remote = true to expose it on purpose`, s.Listen)
	case s.TokenFile == "" && !d.failed("status.token_file"):
		d.required("status.token_file", fmt.Sprintf(`status.listen %q can be reached from other hosts, which must give the token of this file; set it, like token_file = "status.token"`, s.Listen))
	}
}

// maxLabel is the most characters status.store and status.lane may have:
// enough for any store's name or number, short enough for a dashboard's
// legend.
const maxLabel = 64

// checkLabel records a problem when value, given at key to name the
// terminal in head office's monitoring, is too long, has characters that
// cannot be shown (control characters, blanks other than the space), or
// starts or ends with a blank, which would make two spellings of one name.
func (d *decoder) checkLabel(key, value string) {
	switch {
	case d.failed(key) || value == "":
	case utf8.RuneCountInString(value) > maxLabel:
		d.problem(key, "%q is too long; use at most %d characters", value, maxLabel)
	case strings.IndexFunc(value, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		d.problem(key, "%q contains characters that do not show (control characters, tabs, or blanks other than the space); use letters, digits, spaces and punctuation only", value)
	case strings.TrimSpace(value) != value:
		d.problem(key, "%q starts or ends with a space; remove it, so that head office sees one name for the terminal", value)
	}
}

// checkRange records a problem when the duration at key lies outside
// [lo, hi] and reports whether it is usable.
func (d *decoder) checkRange(key string, v, lo, hi time.Duration) bool {
	if d.failed(key) {
		return false
	}
	if v < lo || v > hi {
		d.problem(key, "%s is out of range; use a duration from %s to %s", fmtDuration(v), fmtDuration(lo), fmtDuration(hi))
		return false
	}
	return true
}

// fmtDuration writes durations without the zero units that
// time.Duration.String adds ("24h" rather than "24h0m0s", "1m" rather than
// "1m0s").
func fmtDuration(v time.Duration) string {
	s := v.String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP address
// (127.0.0.0/8 or ::1).
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
