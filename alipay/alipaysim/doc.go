// Package alipaysim is a simulated Alipay AMS server on real loopback HTTP:
// it verifies request signatures as AMS does, signs its answers, plays a
// scripted scenario per payment and records every call.
//
// It is part of the product: `posagent demo` runs the agent against it, so
// that anyone can watch a whole payment flow without an Alipay account.
// Tests reach it through alipay/alipaytest, which adds what only tests
// need, in the manner of net/http/httptest.
//
// Unless WithKeys says otherwise it uses fixed throwaway key pairs built into
// the package, so starting a server costs no key generation; they protect
// nothing and must never be used with real Alipay. A Server is reached over
// TCP, so a client in another process (a child under test, the demo) can use
// it just as well as one in the same process.
package alipaysim
