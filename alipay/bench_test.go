package alipay_test

import (
	"context"
	"testing"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/alipay/alipaytest"
)

// The three benchmarks together show what a call costs: one signature, one
// verification, and the whole round trip over loopback HTTP, which holds one
// of each plus JSON, HTTP and the fake server's own signing and verifying.

func BenchmarkSignContent(b *testing.B) {
	priv, _ := vectorKeys(b)
	body := []byte(vectorBody)
	for b.Loop() {
		if _, err := alipay.SignContent(priv, vectorMethod, vectorPath, vectorClientID, vectorTime, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyContent(b *testing.B) {
	_, pub := vectorKeys(b)
	body := []byte(vectorBody)
	sig := vectorSignature(b)
	for b.Loop() {
		if err := alipay.VerifyContent(pub, vectorMethod, vectorPath, vectorClientID, vectorTime, body, sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInquireRoundTrip(b *testing.B) {
	srv := alipaytest.NewServer(b)
	srv.Script("R1", alipaysim.Script{}) // PROCESSING forever
	c, err := alipay.NewClient(srv.ClientConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseIdleConnections()
	ctx := context.Background()
	ref := alipay.Ref{PaymentRequestID: "R1"}
	for b.Loop() {
		if _, err := c.Inquire(ctx, ref); err != nil {
			b.Fatal(err)
		}
	}
}
