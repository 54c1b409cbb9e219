// Package alipaytest provides a fake Alipay AMS server on real loopback HTTP,
// in the manner of net/http/httptest: it verifies request signatures, signs its
// answers, plays a scripted scenario per payment and records every call.
//
// Unless WithKeys says otherwise it uses fixed throwaway key pairs built into
// the package, so starting a server costs no key generation; they protect
// nothing and must never be used outside tests and demos. A Server is reached
// over TCP, so a client in another process (a child under test, the demo)
// can use it just as well as one in the same process.
package alipaytest
