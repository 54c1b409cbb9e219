// Package alipaytest starts the simulated Alipay AMS server of
// alipay/alipaysim for a test, in the manner of net/http/httptest: the
// server lives as long as the test and is closed by its cleanup.
//
// Production code never imports it (cmd/posagent's deps test checks that).
package alipaytest

import (
	"testing"

	"github.com/posagent/posagent/alipay/alipaysim"
)

// NewServer starts a simulated AMS server on a loopback port for the test t
// and closes it when t and its subtests end.
func NewServer(t testing.TB, opts ...alipaysim.Option) *alipaysim.Server {
	t.Helper()
	srv := alipaysim.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv
}
