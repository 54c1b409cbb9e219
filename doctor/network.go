package doctor

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/posagent/posagent/config"
)

// checkNetwork checks that the endpoint's host resolves and that a TLS
// connection to it verifies (a plain TCP connection for an http loopback
// endpoint, as used with a local test server), then fetches the endpoint's
// root once to read the server's Date. It returns that Date (zero when there
// is none) and whether the endpoint was reached.
func checkNetwork(ctx context.Context, r *report, cfg *config.Config, opts Options) (date time.Time, reached bool) {
	u, err := url.Parse(cfg.Alipay.Endpoint)
	if err != nil {
		r.fail("network", fmt.Sprintf("alipay.endpoint %q is not a URL; use one like https://open-sea-global.alipay.com", cfg.Alipay.Endpoint))
		return time.Time{}, false
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	addr := net.JoinHostPort(host, port)
	timeout := cfg.Alipay.Timeout
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if u.Scheme == "http" {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			r.fail("network", fmt.Sprintf("cannot connect to %s (%v); start the local server or correct alipay.endpoint", addr, err))
			return time.Time{}, false
		}
		conn.Close()
		r.pass("network", fmt.Sprintf("TCP connection to %s (plain http on loopback, for tests only)", addr))
	} else {
		if net.ParseIP(host) == nil {
			ips, err := net.DefaultResolver.LookupHost(ctx, host)
			if err != nil {
				r.fail("dns", fmt.Sprintf("%s does not resolve (%v); check the DNS server and the internet connection of this terminal", host, err))
				return time.Time{}, false
			}
			r.pass("dns", fmt.Sprintf("%s resolves to %s", host, strings.Join(ips, ", ")))
		}
		d := tls.Dialer{Config: &tls.Config{ServerName: host, RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12}}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			r.fail("tls", fmt.Sprintf("no verified TLS connection to %s (%v); check the firewall and any proxy, and that the clock is right (certificates are checked against it)", addr, err))
			return time.Time{}, false
		}
		state := conn.(*tls.Conn).ConnectionState()
		conn.Close()
		leaf := state.PeerCertificates[0]
		r.pass("tls", fmt.Sprintf("%s: %s, certificate for %s valid until %s", addr, tls.VersionName(state.Version),
			leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.DateOnly)))
	}
	return serverDate(ctx, u.Scheme+"://"+u.Host, opts), true
}

// serverDate returns the Date header of one GET of base's root; zero when
// there is no answer or no Date.
func serverDate(ctx context.Context, base string, opts Options) time.Time {
	client := &http.Client{
		Transport: &http.Transport{
			Proxy:           http.ProxyFromEnvironment,
			TLSClientConfig: &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
	if err != nil {
		return time.Time{}
	}
	resp, err := client.Do(req)
	if err != nil {
		return time.Time{}
	}
	resp.Body.Close()
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return time.Time{}
	}
	return date
}

// Clock limits of the doctor's clock check. AMS refuses requests whose
// Request-Time is far from its own clock, so a few minutes off already
// stops payments.
const (
	clockWarn = time.Minute
	clockFail = 5 * time.Minute
)

// checkClock compares the terminal's clock with the server's Date.
func checkClock(r *report, date time.Time, now func() time.Time) {
	if date.IsZero() {
		r.skip("clock", "Alipay's answer carried no Date to compare the clock with")
		return
	}
	// Date is cut to whole seconds: take the middle of its second.
	off := now().Sub(date.Add(500 * time.Millisecond))
	abs := off.Abs()
	desc := fmt.Sprintf("the terminal clock is %v %s Alipay's", abs.Round(time.Second), map[bool]string{true: "ahead of", false: "behind"}[off > 0])
	switch {
	case abs > clockFail:
		r.fail("clock", desc+"; set the time and time zone right and turn on time sync (NTP), since Alipay refuses requests from a clock that is off")
	case abs > clockWarn:
		r.warn("clock", desc+"; turn on time sync (NTP) before it drifts further, since Alipay refuses requests from a clock that is off")
	default:
		r.pass("clock", desc)
	}
}
