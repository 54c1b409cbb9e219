package alipaysim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/internal/postest"
)

func newServer(t *testing.T, opts ...alipaysim.Option) *alipaysim.Server {
	srv := alipaysim.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t *testing.T, cfg alipay.Config) *alipay.Client {
	c, err := alipay.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func answers(calls []alipaysim.Call) []string {
	var a []string
	for _, c := range calls {
		a = append(a, c.Answer)
	}
	return a
}

func TestScriptPlaysStepsInOrderThenRepeatsTheLast(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv.ClientConfig())
	srv.Script("R1", alipaysim.Script{Steps: []alipaysim.Step{
		alipaysim.Processing(2), alipaysim.Unknown(1), alipaysim.HTTP500(1), alipaysim.RateLimited(1), alipaysim.Success(),
	}})
	ctx := postest.Context(t)
	var classes []alipay.Class
	for range 7 {
		resp, err := c.Inquire(ctx, alipay.Ref{PaymentRequestID: "R1"})
		classes = append(classes, alipay.ClassOf(resp, err))
	}
	want := []string{"S PROCESSING", "S PROCESSING", "U UNKNOWN_EXCEPTION", "HTTP 500", "U REQUEST_TRAFFIC_EXCEED_LIMIT", "S SUCCESS", "S SUCCESS"}
	if got := answers(srv.Calls()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("answers %q, want %q", got, want)
	}
	wantClasses := []alipay.Class{alipay.NotFinal, alipay.NotFinal, alipay.Unknown, alipay.Unknown, alipay.RateLimited, alipay.Final, alipay.Final}
	if fmt.Sprint(classes) != fmt.Sprint(wantClasses) {
		t.Fatalf("classes %v, want %v", classes, wantClasses)
	}
}

func TestEmptyScriptIsProcessingForever(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv.ClientConfig())
	srv.Script("R1", alipaysim.Script{})
	for range 3 {
		resp, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"})
		if err != nil || resp.PaymentStatus != "PROCESSING" || !resp.PaymentAmount.Equal(alipay.Amount{Currency: "USD", Value: "100"}) {
			t.Fatalf("Inquire = %+v, %v; want PROCESSING of the default 100 USD", resp, err)
		}
	}
}

func TestScriptReplacesEarlierScript(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv.ClientConfig())
	ctx := postest.Context(t)
	srv.Script("R1", alipaysim.Script{PaymentID: "P-OLD", Steps: []alipaysim.Step{alipaysim.Processing(1), alipaysim.Fail("X")}})
	c.Inquire(ctx, alipay.Ref{PaymentRequestID: "R1"})
	c.Cancel(ctx, alipay.Ref{PaymentRequestID: "R1"})
	srv.Script("R1", alipaysim.Script{PaymentID: "P-NEW", Steps: []alipaysim.Step{alipaysim.Success()}})
	resp, err := c.Inquire(ctx, alipay.Ref{PaymentRequestID: "R1"})
	if err != nil || resp.PaymentStatus != "SUCCESS" {
		t.Fatalf("after the new script: %+v, %v; want SUCCESS", resp, err)
	}
	if _, err := c.Inquire(ctx, alipay.Ref{PaymentID: "P-OLD"}); alipay.ClassOf(nil, err) != alipay.Rejected {
		t.Fatalf("the old paymentId still answers: %v", err)
	}
	if id, ok := srv.PaymentID("R1"); !ok || id != "P-NEW" {
		t.Fatalf("PaymentID = %q, %v", id, ok)
	}
}

func TestMadeUpPaymentIDsAreDistinctAndFindThePayment(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv.ClientConfig())
	srv.Script("R1", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	srv.Script("R2", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Fail("USER_BALANCE_NOT_ENOUGH")}})
	p1, _ := srv.PaymentID("R1")
	p2, _ := srv.PaymentID("R2")
	if p1 == "" || p1 == p2 {
		t.Fatalf("payment ids %q and %q", p1, p2)
	}
	resp, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentID: p2})
	if err != nil || resp.PaymentRequestID != "R2" || resp.PaymentStatus != "FAIL" || resp.PaymentResultCode != "USER_BALANCE_NOT_ENOUGH" {
		t.Fatalf("Inquire by paymentId = %+v, %v", resp, err)
	}
	if _, ok := srv.PaymentID("R3"); ok {
		t.Fatal("PaymentID of an unscripted id")
	}
}

// post sends a request by hand, signed with the merchant key over signedBody
// unless sign is false, and returns the answer after checking that the
// server signed it.
func post(t *testing.T, srv *alipaysim.Server, method, path, contentType, body, signedBody string, sign bool) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(postest.Context(t), method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Client-Id", srv.ClientID)
	req.Header.Set("Request-Time", now)
	if sign {
		sig, err := alipay.SignContent(srv.MerchantKey, method, path, srv.ClientID, now, []byte(signedBody))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Signature", alipay.Signature{Algorithm: "RSA256", KeyVersion: 1, Value: sig}.HeaderValue())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	s, err := alipay.ParseSignature(resp.Header.Get("Signature"))
	if err != nil {
		t.Fatalf("answer %s is not signed: %v", raw, err)
	}
	if err := alipay.VerifyContent(srv.AlipayPublicKey, method, path, resp.Header.Get("Client-Id"), resp.Header.Get("Response-Time"), raw, s.Value); err != nil {
		t.Fatalf("answer %s: %v", raw, err)
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, v
}

func TestServerChecksRequestsAsAMSDoes(t *testing.T) {
	srv := newServer(t)
	srv.Script("R1", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	const (
		inquiry = "/ams/api/v1/payments/inquiryPayment"
		jsonCT  = "application/json; charset=UTF-8"
		body    = `{"paymentRequestId":"R1"}`
	)
	tests := []struct {
		name                     string
		method, path, ct         string
		body, signedBody         string
		sign                     bool
		resultStatus, resultCode string
	}{
		{"a correct request", "POST", inquiry, jsonCT, body, body, true, "S", "SUCCESS"},
		{"unknown API", "POST", "/ams/api/v1/payments/pay", jsonCT, body, body, true, "F", "NO_INTERFACE_DEF"},
		{"sandbox path for a live client id", "POST", "/ams/sandbox/api/v1/payments/inquiryPayment", jsonCT, body, body, true, "F", "NO_INTERFACE_DEF"},
		{"GET", "GET", inquiry, jsonCT, body, body, true, "F", "METHOD_NOT_SUPPORTED"},
		{"form body", "POST", inquiry, "application/x-www-form-urlencoded", body, body, true, "F", "MEDIA_TYPE_NOT_ACCEPTABLE"},
		{"unsigned", "POST", inquiry, jsonCT, body, body, false, "F", "INVALID_SIGNATURE"},
		{"body changed after signing", "POST", inquiry, jsonCT, `{"paymentRequestId":"R2"}`, body, true, "F", "INVALID_SIGNATURE"},
		{"not JSON", "POST", inquiry, jsonCT, "R1", "R1", true, "F", "PARAM_ILLEGAL"},
		{"no id", "POST", inquiry, jsonCT, `{}`, `{}`, true, "F", "PARAM_ILLEGAL"},
		{"unscripted id", "POST", inquiry, jsonCT, `{"paymentRequestId":"R9"}`, `{"paymentRequestId":"R9"}`, true, "F", "ORDER_NOT_EXIST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, v := post(t, srv, tt.method, tt.path, tt.ct, tt.body, tt.signedBody, tt.sign)
			result, _ := v["result"].(map[string]any)
			if status != 200 || result["resultStatus"] != tt.resultStatus || result["resultCode"] != tt.resultCode {
				t.Fatalf("HTTP %d %v, want %s %s", status, v, tt.resultStatus, tt.resultCode)
			}
		})
	}
}

func TestServerAnswersCarryItsSkewedClock(t *testing.T) {
	fixed := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	srv := newServer(t, alipaysim.WithClock(func() time.Time { return fixed }))
	srv.Script("R1", alipaysim.Script{})
	srv.SetClockSkew(-90 * time.Minute)
	c := newClient(t, srv.ClientConfig())
	resp, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := fixed.Add(-90 * time.Minute); !resp.ResponseTime.Equal(want) {
		t.Fatalf("ResponseTime %v, want %v", resp.ResponseTime, want)
	}
	if got := srv.Calls()[0].Time; !got.Equal(fixed.Add(-90 * time.Minute)) {
		t.Fatalf("call time %v", got)
	}
	hresp, err := http.Post(srv.URL+"/ams/api/v1/payments/inquiryPayment", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	hresp.Body.Close()
	if got, want := hresp.Header.Get("Date"), "Tue, 01 Dec 2026 06:30:00 GMT"; got != want {
		t.Fatalf("Date %q, want %q", got, want)
	}
}

func TestSlowCancelTakesEffectEvenWhenTheCallerGivesUp(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv.ClientConfig())
	srv.Script("R1", alipaysim.Script{Cancel: []alipaysim.Step{alipaysim.Slow(time.Hour)}})
	ctx, cancel := context.WithCancel(postest.Context(t))
	go func() {
		srv.WaitCalls(ctx, 1)
		cancel()
	}()
	if _, err := c.Cancel(ctx, alipay.Ref{PaymentRequestID: "R1"}); alipay.CancelClassOf(nil, err) != alipay.Unknown {
		t.Fatalf("Cancel = %v, want Unknown", err)
	}
	resp, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"})
	if err != nil || resp.PaymentStatus != "CANCELLED" {
		t.Fatalf("Inquire after the abandoned cancel = %+v, %v; want CANCELLED", resp, err)
	}
}

func TestCloseDropsPendingSlowAnswers(t *testing.T) {
	srv := alipaysim.NewServer()
	c := newClient(t, srv.ClientConfig())
	srv.Script("R1", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Slow(time.Hour)}})
	ctx := postest.Context(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Inquire(ctx, alipay.Ref{PaymentRequestID: "R1"})
		done <- err
	}()
	if _, err := srv.WaitCalls(ctx, 1); err != nil {
		t.Fatal(err)
	}
	srv.Close() // returns only after the slow handler has gone
	select {
	case err := <-done:
		if alipay.ClassOf(nil, err) != alipay.Unknown || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Inquire = %v, want Unknown because the connection closed", err)
		}
	case <-ctx.Done():
		t.Fatal("Inquire did not return after Close")
	}
	srv.Close() // a second Close is harmless
}

func TestWaitCalls(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv.ClientConfig())
	ctx := postest.Context(t)
	got := make(chan []alipaysim.Call, 1)
	go func() {
		calls, err := srv.WaitCalls(ctx, 2)
		if err != nil {
			t.Error(err)
		}
		got <- calls
	}()
	c.Inquire(ctx, alipay.Ref{PaymentRequestID: "A"})
	c.Cancel(ctx, alipay.Ref{PaymentRequestID: "B"})
	calls := <-got
	if len(calls) != 2 || calls[0].API != alipay.APIInquiry || calls[1].API != alipay.APICancel ||
		calls[0].PaymentRequestID != "A" || calls[1].Answer != "F ORDER_NOT_EXIST" || calls[0].ClientID != srv.ClientID {
		t.Fatalf("calls %+v", calls)
	}

	expired, cancel := context.WithCancel(ctx)
	cancel()
	calls, err := srv.WaitCalls(expired, 3)
	if !errors.Is(err, context.Canceled) || len(calls) != 2 {
		t.Fatalf("WaitCalls(cancelled) = %d calls, %v", len(calls), err)
	}
}

func TestWriteKeyFilesMakesAWorkingConfig(t *testing.T) {
	srv := newServer(t)
	srv.Script("R1", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	priv, pub, err := srv.WriteKeyFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(priv); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("private key file mode %v, %v; want 0600", fi.Mode(), err)
		}
	}
	key, err := alipay.LoadPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	apub, err := alipay.LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alipay.LoadPublicKey(priv); !errors.Is(err, alipay.ErrKeyIsPrivate) {
		t.Fatalf("the private key file passed as a public key: %v", err)
	}
	c := newClient(t, alipay.Config{Endpoint: srv.URL, ClientID: srv.ClientID, PrivateKey: key, AlipayPublicKey: apub})
	if _, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"}); err != nil {
		t.Fatal(err)
	}
}

func TestWithKeysReplacesTheBuiltInKeys(t *testing.T) {
	merchant, err := alipay.LoadPrivateKey("../testdata/vector_private_key.pem")
	if err != nil {
		t.Fatal(err)
	}
	builtIn := newServer(t)
	srv := newServer(t, alipaysim.WithKeys(merchant, builtIn.MerchantKey))
	if !srv.MerchantKey.Equal(merchant) || !srv.AlipayPublicKey.Equal(&builtIn.MerchantKey.PublicKey) {
		t.Fatal("the keys were not used")
	}
	srv.Script("R1", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	if _, err := newClient(t, srv.ClientConfig()).Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"}); err != nil {
		t.Fatal(err)
	}
	// A client signing with the built-in merchant key is refused.
	cfg := srv.ClientConfig()
	cfg.PrivateKey = builtIn.MerchantKey
	_, err = newClient(t, cfg).Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"})
	if e, ok := errors.AsType[*alipay.Error](err); !ok || e.Code != "INVALID_SIGNATURE" {
		t.Fatalf("Inquire signed with another key = %v", err)
	}
}

func TestKeyVersionMustMatch(t *testing.T) {
	srv := newServer(t, alipaysim.WithKeyVersion(3))
	srv.Script("R1", alipaysim.Script{})
	if _, err := newClient(t, srv.ClientConfig()).Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"}); err != nil {
		t.Fatalf("with the server's key version: %v", err)
	}
	cfg := srv.ClientConfig()
	cfg.KeyVersion = 1
	_, err := newClient(t, cfg).Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"})
	if e, ok := errors.AsType[*alipay.Error](err); !ok || e.Code != "KEY_NOT_FOUND" {
		t.Fatalf("with another key version: %v", err)
	}
}

func TestServerIsSafeForConcurrentUse(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv.ClientConfig())
	ctx := postest.Context(t)
	var wg sync.WaitGroup
	for i := range 8 {
		id := fmt.Sprintf("R%d", i)
		wg.Go(func() {
			srv.Script(id, alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Processing(1), alipaysim.Success()}})
			for range 3 {
				c.Inquire(ctx, alipay.Ref{PaymentRequestID: id})
				srv.Calls()
			}
			c.Cancel(ctx, alipay.Ref{PaymentRequestID: id})
			srv.SetClockSkew(time.Duration(i) * time.Millisecond)
		})
	}
	if _, err := srv.WaitCalls(ctx, 32); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	perID := map[string][]string{}
	for _, call := range srv.Calls() {
		perID[call.PaymentRequestID] = append(perID[call.PaymentRequestID], call.Answer)
	}
	for id, a := range perID {
		if want := "[S PROCESSING S SUCCESS S SUCCESS S]"; fmt.Sprint(a) != want {
			t.Errorf("%s answered %v, want %s", id, a, want)
		}
	}
}

func TestOversizedAnswerIsOverTheLimit(t *testing.T) {
	srv := newServer(t)
	srv.Script("R1", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Oversized()}})
	body := `{"paymentRequestId":"R1"}`
	req, _ := http.NewRequest("POST", srv.URL+"/ams/api/v1/payments/inquiryPayment", bytes.NewReader([]byte(body)))
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	sig, _ := alipay.SignContent(srv.MerchantKey, "POST", "/ams/api/v1/payments/inquiryPayment", srv.ClientID, now, []byte(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Client-Id", srv.ClientID)
	req.Header.Set("Request-Time", now)
	req.Header.Set("Signature", alipay.Signature{Algorithm: "RSA256", KeyVersion: 1, Value: sig}.HeaderValue())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	if n <= alipay.MaxBody {
		t.Fatalf("oversized answer has %d bytes, not over %d", n, alipay.MaxBody)
	}
}
