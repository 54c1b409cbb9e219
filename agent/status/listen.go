package status

import (
	"fmt"
	"net"
	"strings"
)

// CheckListen reports whether addr (host:port) may be listened on. The status
// endpoint shows payments, so it is kept to the loopback interface unless
// allowRemote says otherwise: an address whose host is empty, a non-loopback
// IP or a name other than localhost is refused. Such an address, once
// allowed, is served only with a bearer token (NeedsToken, Options.Token).
func CheckListen(addr string, allowRemote bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("status.listen %q is not host:port, such as 127.0.0.1:8765: %w", addr, err)
	}
	if port == "" {
		return fmt.Errorf("status.listen %q has no port; give one, such as 127.0.0.1:8765", addr)
	}
	if allowRemote || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("status.listen %q is not a loopback address; use 127.0.0.1 or set status.allow_remote = true to serve other hosts", addr)
}

// isLoopback reports whether host names only the loopback interface.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
