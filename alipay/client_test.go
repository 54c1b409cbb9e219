package alipay_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/alipay/alipaytest"
	"github.com/posagent/posagent/internal/postest"
)

// newFake starts a fake AMS server and a client configured for it; change,
// when given, adjusts the client's config first.
func newFake(t *testing.T, change func(*alipay.Config), opts ...alipaysim.Option) (*alipaysim.Server, *alipay.Client) {
	t.Helper()
	srv := alipaytest.NewServer(t, opts...)
	cfg := srv.ClientConfig()
	if change != nil {
		change(&cfg)
	}
	c, err := alipay.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return srv, c
}

func asError(t *testing.T, err error) *alipay.Error {
	t.Helper()
	e, ok := errors.AsType[*alipay.Error](err)
	if !ok {
		t.Fatalf("error %v (%T) is not an *alipay.Error", err, err)
	}
	return e
}

var usd500 = alipay.Amount{Currency: "USD", Value: "500"}

func TestInquireClassifiesEveryAnswer(t *testing.T) {
	srv, c := newFake(t, nil)
	tests := []struct {
		name          string
		step          alipaysim.Step
		class         alipay.Class
		paymentStatus string // for a nil error
		resultStatus  string // for an *Error from a verified answer
		code          string
		verified      bool // for an *Error
		httpStatus    int  // for an *Error
	}{
		{name: "processing", step: alipaysim.Processing(1), class: alipay.NotFinal, paymentStatus: "PROCESSING"},
		{name: "success", step: alipaysim.Success(), class: alipay.Final, paymentStatus: "SUCCESS"},
		{name: "fail", step: alipaysim.Fail("USER_BALANCE_NOT_ENOUGH"), class: alipay.Final, paymentStatus: "FAIL"},
		{name: "success of another amount", step: alipaysim.MismatchedAmount(alipay.Amount{Currency: "USD", Value: "50"}), class: alipay.Final, paymentStatus: "SUCCESS"},
		{name: "U", step: alipaysim.Unknown(1), class: alipay.Unknown, resultStatus: "U", code: "UNKNOWN_EXCEPTION", verified: true, httpStatus: 200},
		{name: "U rate limited", step: alipaysim.RateLimited(1), class: alipay.RateLimited, resultStatus: "U", code: "REQUEST_TRAFFIC_EXCEED_LIMIT", verified: true, httpStatus: 200},
		{name: "F rate limited", step: alipaysim.Refuse("REQUEST_TRAFFIC_EXCEED_LIMIT"), class: alipay.RateLimited, resultStatus: "F", code: "REQUEST_TRAFFIC_EXCEED_LIMIT", verified: true, httpStatus: 200},
		{name: "F ACCESS_DENIED", step: alipaysim.Refuse("ACCESS_DENIED"), class: alipay.Operator, resultStatus: "F", code: "ACCESS_DENIED", verified: true, httpStatus: 200},
		{name: "F MERCHANT_NOT_REGISTERED", step: alipaysim.Refuse("MERCHANT_NOT_REGISTERED"), class: alipay.Operator, resultStatus: "F", code: "MERCHANT_NOT_REGISTERED", verified: true, httpStatus: 200},
		{name: "F INVALID_CLIENT", step: alipaysim.Refuse("INVALID_CLIENT"), class: alipay.Operator, resultStatus: "F", code: "INVALID_CLIENT", verified: true, httpStatus: 200},
		{name: "F INVALID_API", step: alipaysim.Refuse("INVALID_API"), class: alipay.Operator, resultStatus: "F", code: "INVALID_API", verified: true, httpStatus: 200},
		{name: "F ORDER_IS_CLOSED", step: alipaysim.Refuse("ORDER_IS_CLOSED"), class: alipay.Rejected, resultStatus: "F", code: "ORDER_IS_CLOSED", verified: true, httpStatus: 200},
		{name: "F PARAM_ILLEGAL", step: alipaysim.Refuse("PARAM_ILLEGAL"), class: alipay.Rejected, resultStatus: "F", code: "PARAM_ILLEGAL", verified: true, httpStatus: 200},
		{name: "F PROCESS_FAIL", step: alipaysim.Refuse("PROCESS_FAIL"), class: alipay.Rejected, resultStatus: "F", code: "PROCESS_FAIL", verified: true, httpStatus: 200},
		{name: "F with a code nobody knows", step: alipaysim.Refuse("SOMETHING_NEW"), class: alipay.Rejected, resultStatus: "F", code: "SOMETHING_NEW", verified: true, httpStatus: 200},
		{name: "HTTP 500", step: alipaysim.HTTP500(1), class: alipay.Unknown, httpStatus: 500},
		{name: "forged signature", step: alipaysim.Forged(), class: alipay.Unknown, httpStatus: 200},
		{name: "unsigned", step: alipaysim.Unsigned(), class: alipay.Unknown, httpStatus: 200},
		{name: "not JSON", step: alipaysim.NotJSON(), class: alipay.Unknown, verified: true, httpStatus: 200},
		{name: "over 1 MiB", step: alipaysim.Oversized(), class: alipay.Unknown, httpStatus: 200},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqID := fmt.Sprintf("REQ-%02d", i)
			srv.Script(reqID, alipaysim.Script{Amount: usd500, Steps: []alipaysim.Step{tt.step}})
			resp, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: reqID})
			if got := alipay.ClassOf(resp, err); got != tt.class {
				t.Fatalf("ClassOf = %v, want %v (err %v)", got, tt.class, err)
			}
			if tt.paymentStatus != "" {
				if err != nil {
					t.Fatalf("Inquire: %v", err)
				}
				if resp.PaymentStatus != tt.paymentStatus || resp.PaymentRequestID != reqID {
					t.Fatalf("answer %+v, want paymentStatus %s for %s", resp, tt.paymentStatus, reqID)
				}
				return
			}
			e := asError(t, err)
			if e.Class != tt.class || e.ResultStatus != tt.resultStatus || e.Code != tt.code || e.Verified != tt.verified || e.HTTPStatus != tt.httpStatus {
				t.Fatalf("error fields %+v, want class %v, %q %q, verified %v, HTTP %d", e, tt.class, tt.resultStatus, tt.code, tt.verified, tt.httpStatus)
			}
			if e.API != alipay.APIInquiry || e.Ref.PaymentRequestID != reqID {
				t.Fatalf("error names %s %v", e.API, e.Ref)
			}
			if !tt.verified && resp != nil {
				t.Fatalf("an unverified answer was returned: %+v", resp)
			}
			if tt.resultStatus != "" && (resp == nil || resp.Result.Code != tt.code) {
				t.Fatalf("the verified answer was not returned beside the error: %+v", resp)
			}
			msg := err.Error()
			if !strings.Contains(msg, reqID) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q is not one line naming the payment", msg)
			}
		})
	}
}

func TestInquireUnscriptedPaymentIsRejected(t *testing.T) {
	_, c := newFake(t, nil)
	resp, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "NEVER-SEEN"})
	e := asError(t, err)
	if e.Class != alipay.Rejected || e.Code != "ORDER_NOT_EXIST" || !e.Verified {
		t.Fatalf("error %+v, want a verified, rejected ORDER_NOT_EXIST", e)
	}
	if resp == nil || resp.Result.Status != "F" {
		t.Fatalf("answer %+v, want the signed F answer beside the error", resp)
	}
}

func TestInquireMismatchedAmountIsVisible(t *testing.T) {
	srv, c := newFake(t, nil)
	srv.Script("R1", alipaysim.Script{Amount: usd500, Steps: []alipaysim.Step{alipaysim.MismatchedAmount(alipay.Amount{Currency: "EUR", Value: "0500"})}})
	resp, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.PaymentAmount.Equal(usd500) {
		t.Fatalf("amount %v equals %v", resp.PaymentAmount, usd500)
	}
	if !resp.PaymentAmount.Equal(alipay.Amount{Currency: "EUR", Value: "500"}) {
		t.Fatalf("amount %v, want 500 EUR", resp.PaymentAmount)
	}
}

func TestInquireParsesEveryField(t *testing.T) {
	srv, c := newFake(t, nil)
	srv.Script("R1", alipaysim.Script{Amount: usd500, PaymentID: "2026120100000001", Steps: []alipaysim.Step{alipaysim.Success()}})
	ctx := postest.Context(t)
	resp, err := c.Inquire(ctx, alipay.Ref{PaymentRequestID: "R1"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Result != (alipay.Result{Status: "S", Code: "SUCCESS", Message: "success"}) {
		t.Errorf("result %+v", resp.Result)
	}
	if resp.PaymentID != "2026120100000001" || resp.PaymentResultCode != "SUCCESS" || resp.PaymentResultMessage == "" {
		t.Errorf("ids and codes %+v", resp)
	}
	if !resp.PaymentAmount.Equal(usd500) || resp.GrossSettlementAmount == nil || !resp.GrossSettlementAmount.Equal(usd500) {
		t.Errorf("amounts %v %v", resp.PaymentAmount, resp.GrossSettlementAmount)
	}
	for name, v := range map[string]string{"paymentCreateTime": resp.PaymentCreateTime, "paymentTime": resp.PaymentTime} {
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			t.Errorf("%s %q: %v", name, v, err)
		}
	}
	if resp.PSPCustomerInfo == nil || resp.PSPCustomerInfo.PSPName != "ALIPAY_CN" {
		t.Errorf("pspCustomerInfo %+v", resp.PSPCustomerInfo)
	}
	if q := resp.SettlementQuote; q == nil || q.QuotePrice.String() != "1" || q.QuoteID == "" || q.QuoteCurrencyPair != "USD/USD" {
		t.Errorf("settlementQuote %+v", resp.SettlementQuote)
	}
	if resp.ResponseTime.IsZero() {
		t.Error("ResponseTime not set from the Response-Time header")
	}

	if _, err := c.Cancel(ctx, alipay.Ref{PaymentRequestID: "R1"}); err != nil {
		t.Fatal(err)
	}
	resp, err = c.Inquire(ctx, alipay.Ref{PaymentRequestID: "R1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Transactions) != 1 {
		t.Fatalf("transactions %+v, want the cancel", resp.Transactions)
	}
	tx := resp.Transactions[0]
	if tx.Type != "CANCEL" || tx.Status != "SUCCESS" || tx.Result.Status != "S" || !tx.Amount.Equal(usd500) || tx.ID == "" || tx.Time == "" || tx.RequestID != "R1" {
		t.Errorf("transaction %+v", tx)
	}
}

func TestInquireIgnoresUnknownFieldsAndTakesQuotedNumbers(t *testing.T) {
	_, c := newSigningServer(t, func(string) string {
		return `{"result":{"resultStatus":"S","resultCode":"SUCCESS"},"paymentStatus":"SUCCESS","paymentRequestId":"R1",` +
			`"paymentAmount":{"currency":"USD","value":"500"},"somethingNew":{"x":[1,2]},"settlementQuote":{"quotePrice":"7.1234"}}`
	})
	resp, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.SettlementQuote.QuotePrice.String() != "7.1234" || resp.PaymentStatus != "SUCCESS" {
		t.Fatalf("answer %+v", resp)
	}
}

// newSigningServer starts an HTTP server that answers every request with
// body(path), correctly signed with the vector key, and a client that trusts
// that key. It plays answers the fake AMS server is too well behaved for.
func newSigningServer(t *testing.T, body func(path string) string) (*httptest.Server, *alipay.Client) {
	t.Helper()
	priv, pub := vectorKeys(t)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := body(r.URL.Path)
		now := strconv.FormatInt(time.Now().UnixMilli(), 10)
		sig, err := alipay.SignContent(priv, r.Method, r.URL.Path, r.Header.Get("Client-Id"), now, []byte(b))
		if err != nil {
			t.Error(err)
		}
		w.Header().Set("Response-Time", now)
		w.Header().Set("Signature", alipay.Signature{Algorithm: "RSA256", KeyVersion: 1, Value: sig}.HeaderValue())
		w.Write([]byte(b))
	}))
	t.Cleanup(ts.Close)
	c, err := alipay.NewClient(alipay.Config{Endpoint: ts.URL, ClientID: "5X00000000000000", PrivateKey: priv, AlipayPublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return ts, c
}

func TestInquireIgnoresSignedAnswerAboutAnotherPayment(t *testing.T) {
	_, c := newSigningServer(t, func(string) string {
		return `{"result":{"resultStatus":"S","resultCode":"SUCCESS"},"paymentStatus":"SUCCESS","paymentRequestId":"OTHER","paymentId":"P9"}`
	})
	ctx := postest.Context(t)
	for _, ref := range []alipay.Ref{{PaymentRequestID: "R1"}, {PaymentID: "P1"}} {
		resp, err := c.Inquire(ctx, ref)
		if alipay.ClassOf(resp, err) != alipay.Unknown {
			t.Fatalf("Inquire(%v) = %+v, %v; want Unknown", ref, resp, err)
		}
		if e := asError(t, err); !e.Verified || !strings.Contains(e.Error(), "not the payment asked about") {
			t.Fatalf("error %v", e)
		}
	}
}

func TestInquireSignedAnswerWithoutResultIsUnknown(t *testing.T) {
	_, c := newSigningServer(t, func(string) string { return `{"paymentStatus":"SUCCESS","paymentRequestId":"R1"}` })
	resp, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"})
	if alipay.ClassOf(resp, err) != alipay.Unknown {
		t.Fatalf("Inquire = %+v, %v; want Unknown", resp, err)
	}
}

func TestInquireUnknownPaymentStatusIsNotFinal(t *testing.T) {
	_, c := newSigningServer(t, func(string) string {
		return `{"result":{"resultStatus":"S","resultCode":"SUCCESS"},"paymentStatus":"PENDING","paymentRequestId":"R1"}`
	})
	resp, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"})
	if got := alipay.ClassOf(resp, err); err != nil || got != alipay.NotFinal {
		t.Fatalf("Inquire = %v, %v; want NotFinal", got, err)
	}
}

func TestInquireHTTPStatusWithoutAMSAnswer(t *testing.T) {
	var redirected atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/elsewhere", func(http.ResponseWriter, *http.Request) { redirected.Store(true) })
	status := map[string]int{"R429": 429, "R404": 404, "R307": 307, "R503": 503}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		for id, code := range status {
			if strings.Contains(string(body), id) {
				if code == 307 {
					http.Redirect(w, r, "/elsewhere", code)
					return
				}
				w.WriteHeader(code)
				return
			}
		}
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	priv, pub := vectorKeys(t)
	c, err := alipay.NewClient(alipay.Config{Endpoint: ts.URL, ClientID: "5X00000000000000", PrivateKey: priv, AlipayPublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	tests := []struct {
		id    string
		class alipay.Class
	}{
		{"R429", alipay.RateLimited},
		{"R404", alipay.Unknown},
		{"R307", alipay.Unknown},
		{"R503", alipay.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			resp, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: tt.id})
			e := asError(t, err)
			if e.Class != tt.class || e.HTTPStatus != status[tt.id] || e.Verified || resp != nil {
				t.Fatalf("Inquire = %+v, %+v; want class %v, HTTP %d", resp, e, tt.class, status[tt.id])
			}
			if !strings.Contains(err.Error(), "HTTP "+strconv.Itoa(status[tt.id])) {
				t.Fatalf("error %q does not give the HTTP status", err)
			}
		})
	}
	if redirected.Load() {
		t.Fatal("the client followed a redirect with a signed request")
	}
}

func TestInquireCredentialProblemsNeedOperator(t *testing.T) {
	otherKey, _ := vectorKeys(t)
	tests := []struct {
		name   string
		change func(*alipay.Config)
		opts   []alipaysim.Option
		code   string
	}{
		{"wrong client id", func(c *alipay.Config) { c.ClientID = "5X99999999999999" }, nil, "CLIENT_INVALID"},
		{"wrong merchant key", func(c *alipay.Config) { c.PrivateKey = otherKey }, nil, "INVALID_SIGNATURE"},
		{"wrong key version", func(c *alipay.Config) { c.KeyVersion = 2 }, nil, "KEY_NOT_FOUND"},
		{"terminal clock behind", func(c *alipay.Config) { c.Now = func() time.Time { return time.Now().Add(-time.Hour) } },
			[]alipaysim.Option{alipaysim.WithRequestTimeTolerance(5 * time.Minute)}, "INVALID_SIGNATURE"},
		{"sandbox client id against the live paths", func(c *alipay.Config) { c.ClientID = "SANDBOX_5X00000000000000" }, nil, "NO_INTERFACE_DEF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newFake(t, tt.change, tt.opts...)
			srv.Script("R1", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
			resp, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"})
			e := asError(t, err)
			if e.Class != alipay.Operator || e.Code != tt.code || !e.Verified {
				t.Fatalf("Inquire = %+v, %v; want a verified %s needing an operator", resp, err, tt.code)
			}
			if tt.code == "INVALID_SIGNATURE" && !strings.Contains(err.Error(), "clock") {
				t.Fatalf("error %q does not mention the clock", err)
			}
			if !strings.Contains(err.Error(), "key_version") {
				t.Fatalf("error %q does not say what to check", err)
			}
		})
	}
}

func TestInquireServerClockSkewBeyondToleranceIsInvalidSignature(t *testing.T) {
	srv, c := newFake(t, nil, alipaysim.WithRequestTimeTolerance(5*time.Minute))
	srv.Script("R1", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	ctx := postest.Context(t)
	if _, err := c.Inquire(ctx, alipay.Ref{PaymentRequestID: "R1"}); err != nil {
		t.Fatalf("without skew: %v", err)
	}
	srv.SetClockSkew(10 * time.Minute)
	_, err := c.Inquire(ctx, alipay.Ref{PaymentRequestID: "R1"})
	if e := asError(t, err); e.Code != "INVALID_SIGNATURE" {
		t.Fatalf("with skew: %v", err)
	}
}

func TestInquireRefusesAnswersSignedWithAnotherKey(t *testing.T) {
	_, pub := vectorKeys(t)
	srv, c := newFake(t, func(c *alipay.Config) { c.AlipayPublicKey = pub })
	srv.Script("R1", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	resp, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"})
	e := asError(t, err)
	if e.Class != alipay.Unknown || e.Verified || resp != nil || !errors.Is(err, alipay.ErrBadSignature) {
		t.Fatalf("Inquire = %+v, %+v; want Unknown and unverified", resp, e)
	}
}

// TestClientUsesThePathsOfItsClientID checks that a sandbox client id
// (SANDBOX_...) sends, and signs, the sandbox paths, and any other id the live
// ones: the fake server verifies the signature over the path it was called on.
func TestClientUsesThePathsOfItsClientID(t *testing.T) {
	tests := []struct {
		name, clientID, prefix string
	}{
		{"sandbox", "SANDBOX_5X00000000000000", "/ams/sandbox/api/v1/payments/"},
		{"live", alipaysim.DefaultClientID, "/ams/api/v1/payments/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newFake(t, nil, alipaysim.WithClientID(tt.clientID))
			calls := inquireAndCancel(t, srv, c, "R1")
			if len(calls) != 2 || calls[0].Path != tt.prefix+"inquiryPayment" || calls[1].Path != tt.prefix+"cancel" {
				t.Fatalf("calls %+v, want %sinquiryPayment and %scancel", calls, tt.prefix, tt.prefix)
			}
		})
	}
}

// inquireAndCancel scripts req as paid, asks about it and cancels it, and
// returns the calls the server got.
func inquireAndCancel(t *testing.T, srv *alipaysim.Server, c *alipay.Client, req string) []alipaysim.Call {
	t.Helper()
	srv.Script(req, alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	ctx := postest.Context(t)
	if _, err := c.Inquire(ctx, alipay.Ref{PaymentRequestID: req}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Cancel(ctx, alipay.Ref{PaymentRequestID: req}); err != nil {
		t.Fatal(err)
	}
	return srv.Calls()
}

func TestInquireSendsMerchantAccountIDWhenSet(t *testing.T) {
	for _, account := range []string{"", "MA-0001"} {
		t.Run("account="+account, func(t *testing.T) {
			srv, c := newFake(t, func(c *alipay.Config) { c.MerchantAccountID = account })
			for _, call := range inquireAndCancel(t, srv, c, "R1") {
				if call.MerchantAccountID != account || call.PaymentRequestID != "R1" || call.PaymentID != "" {
					t.Fatalf("call %+v, want merchantAccountId %q and only paymentRequestId", call, account)
				}
			}
		})
	}
}

func TestInquireByPaymentID(t *testing.T) {
	srv, c := newFake(t, nil)
	srv.Script("R1", alipaysim.Script{PaymentID: "P-1", Steps: []alipaysim.Step{alipaysim.Success()}})
	resp, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentID: "P-1"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.PaymentRequestID != "R1" || resp.PaymentID != "P-1" {
		t.Fatalf("answer %+v", resp)
	}
	if calls := srv.Calls(); calls[0].PaymentID != "P-1" || calls[0].PaymentRequestID != "" {
		t.Fatalf("call %+v, want only paymentId", calls[0])
	}
}

func TestInquireNeedsExactlyOneID(t *testing.T) {
	srv, c := newFake(t, nil)
	for _, ref := range []alipay.Ref{{}, {PaymentRequestID: "R1", PaymentID: "P1"}} {
		resp, err := c.Inquire(postest.Context(t), ref)
		if e := asError(t, err); e.Class != alipay.Rejected || resp != nil {
			t.Fatalf("Inquire(%+v) = %+v, %v; want Rejected", ref, resp, err)
		}
	}
	if n := len(srv.Calls()); n != 0 {
		t.Fatalf("%d calls reached the server", n)
	}
}

func TestInquireSlowerThanTimeoutIsUnknown(t *testing.T) {
	t.Parallel()
	srv, c := newFake(t, func(c *alipay.Config) { c.Timeout = alipay.MinTimeout })
	srv.Script("R1", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Slow(time.Hour)}})
	resp, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"})
	e := asError(t, err)
	if e.Class != alipay.Unknown || resp != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Inquire = %+v, %v; want Unknown with a deadline error", resp, err)
	}
	if !strings.Contains(err.Error(), "timeout 1s") {
		t.Fatalf("error %q does not give the timeout", err)
	}
}

func TestInquireHonoursCallerDeadline(t *testing.T) {
	srv, c := newFake(t, nil) // the client's own timeout is the default 15 s
	srv.Script("R1", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Slow(time.Hour)}})
	ctx, cancel := context.WithCancel(postest.Context(t))
	go func() {
		// Give up once the server has the request.
		srv.WaitCalls(ctx, 1)
		cancel()
	}()
	_, err := c.Inquire(ctx, alipay.Ref{PaymentRequestID: "R1"})
	if alipay.ClassOf(nil, err) != alipay.Unknown || !errors.Is(err, context.Canceled) {
		t.Fatalf("Inquire = %v; want Unknown wrapping context.Canceled", err)
	}
}

func TestInquireWithoutServerIsUnknown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	priv, pub := vectorKeys(t)
	c, err := alipay.NewClient(alipay.Config{Endpoint: "http://" + addr, ClientID: "5X00000000000000", PrivateKey: priv, AlipayPublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"})
	if e := asError(t, err); e.Class != alipay.Unknown || e.HTTPStatus != 0 || resp != nil {
		t.Fatalf("Inquire = %+v, %v; want Unknown without HTTP status", resp, err)
	}
}

func TestInquireOverTLS(t *testing.T) {
	srv := alipaytest.NewServer(t)
	srv.Script("R1", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}})
	quiet := log.New(io.Discard, "", 0) // the servers would log the refused handshakes
	ts := httptest.NewUnstartedServer(srv)
	ts.Config.ErrorLog = quiet
	ts.StartTLS()
	t.Cleanup(ts.Close)
	old := httptest.NewUnstartedServer(srv)
	old.Config.ErrorLog = quiet
	old.TLS = &tls.Config{MaxVersion: tls.VersionTLS11}
	old.StartTLS()
	t.Cleanup(old.Close)
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	oldPool := x509.NewCertPool()
	oldPool.AddCert(old.Certificate())

	tests := []struct {
		name     string
		endpoint string
		opts     []alipay.Option
		ok       bool
		cause    string // part of the error when not ok
	}{
		{"trusted certificate", ts.URL, []alipay.Option{alipay.WithRootCAs(pool)}, true, ""},
		{"unknown certificate", ts.URL, nil, false, "certificate signed by unknown authority"},
		{"TLS 1.1 server", old.URL, []alipay.Option{alipay.WithRootCAs(oldPool)}, false, "protocol version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := srv.ClientConfig()
			cfg.Endpoint = tt.endpoint
			c, err := alipay.NewClient(cfg, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.CloseIdleConnections)
			resp, err := c.Inquire(postest.Context(t), alipay.Ref{PaymentRequestID: "R1"})
			if tt.ok {
				if err != nil || resp.PaymentStatus != "SUCCESS" {
					t.Fatalf("Inquire = %+v, %v", resp, err)
				}
				return
			}
			if e := asError(t, err); e.Class != alipay.Unknown || e.HTTPStatus != 0 || !strings.Contains(err.Error(), tt.cause) {
				t.Fatalf("Inquire = %+v, %v; want Unknown without an answer, because of %q", resp, err, tt.cause)
			}
		})
	}
}

func TestClientReusesOneConnection(t *testing.T) {
	srv := alipaytest.NewServer(t)
	srv.Script("R1", alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Processing(1)}})
	var conns atomic.Int32
	ts := httptest.NewUnstartedServer(srv)
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	cfg := srv.ClientConfig()
	cfg.Endpoint = ts.URL
	c, err := alipay.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	ctx := postest.Context(t)
	for range 10 {
		if _, err := c.Inquire(ctx, alipay.Ref{PaymentRequestID: "R1"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("10 sequential calls opened %d connections, want 1", n)
	}
}

func TestClientIsSafeForConcurrentUse(t *testing.T) {
	srv, c := newFake(t, nil)
	const n = 16
	for i := range n {
		srv.Script(fmt.Sprintf("R%d", i), alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Processing(2), alipaysim.Success()}})
	}
	ctx := postest.Context(t)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			ref := alipay.Ref{PaymentRequestID: fmt.Sprintf("R%d", i)}
			for _, want := range []alipay.Class{alipay.NotFinal, alipay.NotFinal, alipay.Final} {
				resp, err := c.Inquire(ctx, ref)
				if got := alipay.ClassOf(resp, err); got != want {
					errs <- fmt.Errorf("%v: class %v, want %v (%v)", ref, got, want, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(srv.Calls()); got != 3*n {
		t.Fatalf("%d calls, want %d", got, 3*n)
	}
}

func TestCancelClassifiesEveryAnswer(t *testing.T) {
	srv, c := newFake(t, nil)
	tests := []struct {
		name     string
		steps    []alipaysim.Step
		class    alipay.Class
		code     string
		verified bool
		after    string // the paymentStatus an inquiry then answers
	}{
		{name: "S", class: alipay.Final, after: "CANCELLED"},
		{name: "U", steps: []alipaysim.Step{alipaysim.Unknown(1)}, class: alipay.Unknown, code: "UNKNOWN_EXCEPTION", verified: true, after: "PROCESSING"},
		{name: "F ORDER_IS_CLOSED", steps: []alipaysim.Step{alipaysim.Refuse("ORDER_IS_CLOSED")}, class: alipay.Rejected, code: "ORDER_IS_CLOSED", verified: true, after: "PROCESSING"},
		{name: "F CANCEL_WINDOW_EXCEED", steps: []alipaysim.Step{alipaysim.Refuse("CANCEL_WINDOW_EXCEED")}, class: alipay.Rejected, code: "CANCEL_WINDOW_EXCEED", verified: true, after: "PROCESSING"},
		{name: "F PROCESS_FAIL", steps: []alipaysim.Step{alipaysim.Refuse("PROCESS_FAIL")}, class: alipay.Rejected, code: "PROCESS_FAIL", verified: true, after: "PROCESSING"},
		{name: "F ACCESS_DENIED", steps: []alipaysim.Step{alipaysim.Refuse("ACCESS_DENIED")}, class: alipay.Operator, code: "ACCESS_DENIED", verified: true, after: "PROCESSING"},
		{name: "rate limited", steps: []alipaysim.Step{alipaysim.RateLimited(1)}, class: alipay.RateLimited, code: "REQUEST_TRAFFIC_EXCEED_LIMIT", verified: true, after: "PROCESSING"},
		{name: "HTTP 500", steps: []alipaysim.Step{alipaysim.HTTP500(1)}, class: alipay.Unknown, after: "PROCESSING"},
		{name: "forged S", steps: []alipaysim.Step{alipaysim.Forged()}, class: alipay.Unknown, after: "CANCELLED"},
		{name: "unsigned S", steps: []alipaysim.Step{alipaysim.Unsigned()}, class: alipay.Unknown, after: "CANCELLED"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqID := fmt.Sprintf("C-%02d", i)
			srv.Script(reqID, alipaysim.Script{Cancel: tt.steps})
			ref := alipay.Ref{PaymentRequestID: reqID}
			ctx := postest.Context(t)
			resp, err := c.Cancel(ctx, ref)
			if got := alipay.CancelClassOf(resp, err); got != tt.class {
				t.Fatalf("CancelClassOf = %v, want %v (err %v)", got, tt.class, err)
			}
			if err == nil {
				if resp.PaymentRequestID != reqID || resp.CancelTime == "" || resp.PaymentID == "" {
					t.Fatalf("answer %+v", resp)
				}
			} else if e := asError(t, err); e.Code != tt.code || e.Verified != tt.verified || e.API != alipay.APICancel {
				t.Fatalf("error %+v, want code %q, verified %v", e, tt.code, tt.verified)
			}
			after, err := c.Inquire(ctx, ref)
			if err != nil || after.PaymentStatus != tt.after {
				t.Fatalf("inquiry after the cancel = %+v, %v; want %s", after, err, tt.after)
			}
		})
	}
}

func TestCancelUnscriptedPaymentIsRejected(t *testing.T) {
	_, c := newFake(t, nil)
	resp, err := c.Cancel(postest.Context(t), alipay.Ref{PaymentRequestID: "NEVER-SEEN"})
	if e := asError(t, err); e.Class != alipay.Rejected || e.Code != "ORDER_NOT_EXIST" || resp == nil {
		t.Fatalf("Cancel = %+v, %v; want rejected ORDER_NOT_EXIST", resp, err)
	}
}

func TestCancelRetriedAfterUnknownSucceeds(t *testing.T) {
	srv, c := newFake(t, nil)
	srv.Script("R1", alipaysim.Script{Cancel: []alipaysim.Step{alipaysim.Unknown(2), alipaysim.Success()}})
	ctx := postest.Context(t)
	var got []alipay.Class
	for range 4 {
		resp, err := c.Cancel(ctx, alipay.Ref{PaymentRequestID: "R1"})
		got = append(got, alipay.CancelClassOf(resp, err))
	}
	want := []alipay.Class{alipay.Unknown, alipay.Unknown, alipay.Final, alipay.Final}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("classes %v, want %v", got, want)
	}
}

func TestClassString(t *testing.T) {
	tests := map[alipay.Class]string{
		alipay.Unknown:     "unknown",
		alipay.Final:       "final",
		alipay.NotFinal:    "not final",
		alipay.RateLimited: "rate limited",
		alipay.Operator:    "operator action needed",
		alipay.Rejected:    "rejected",
		alipay.Class(42):   "class(42)",
	}
	for c, want := range tests {
		if got := c.String(); got != want {
			t.Errorf("Class(%d).String() = %q, want %q", int(c), got, want)
		}
	}
}

func TestClassOfForeignErrorIsUnknown(t *testing.T) {
	if got := alipay.ClassOf(&alipay.InquiryResponse{Result: alipay.Result{Status: "S"}, PaymentStatus: "SUCCESS"}, errors.New("x")); got != alipay.Unknown {
		t.Fatalf("ClassOf(success, foreign error) = %v", got)
	}
	if got := alipay.ClassOf(nil, nil); got != alipay.Unknown {
		t.Fatalf("ClassOf(nil, nil) = %v", got)
	}
	if got := alipay.CancelClassOf(nil, nil); got != alipay.Unknown {
		t.Fatalf("CancelClassOf(nil, nil) = %v", got)
	}
	wrapped := fmt.Errorf("polling: %w", &alipay.Error{Class: alipay.Operator})
	if got := alipay.ClassOf(nil, wrapped); got != alipay.Operator {
		t.Fatalf("ClassOf(wrapped operator error) = %v", got)
	}
}
