// Package alipaytest provides a fake Alipay AMS server on real loopback HTTP,
// in the manner of net/http/httptest: it verifies request signatures, signs its
// answers, plays a scripted scenario per payment and records every call.
package alipaytest
