package alipay

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// MaxBody is the largest answer body read; a longer one is refused as
// Unknown, since no AMS answer comes near it.
const MaxBody = 1 << 20

// The AMS APIs this client calls; they are the last element of the path.
const (
	APIInquiry = "inquiryPayment"
	APICancel  = "cancel"
)

// Ref names the payment a call is about by exactly one of its ids.
type Ref struct {
	PaymentRequestID string // the merchant's id, which the register always knows
	PaymentID        string // Alipay's id
}

// String returns `paymentRequestId "R1"` or `paymentId "P1"`, for messages.
func (r Ref) String() string {
	if r.PaymentRequestID != "" {
		return fmt.Sprintf("paymentRequestId %q", r.PaymentRequestID)
	}
	return fmt.Sprintf("paymentId %q", r.PaymentID)
}

func (r Ref) check() error {
	if (r.PaymentRequestID == "") == (r.PaymentID == "") {
		return errors.New("the payment must be named by exactly one of paymentRequestId and paymentId")
	}
	return nil
}

// answers reports whether an answer naming reqID and payID can be about r.
// An id the answer leaves out does not disagree.
func (r Ref) answers(reqID, payID string) bool {
	if r.PaymentRequestID != "" {
		return reqID == "" || reqID == r.PaymentRequestID
	}
	return payID == "" || payID == r.PaymentID
}

// requestBody is the body of both calls (docs/design.md): Alipay lets paymentId
// win when both ids are given, so a Ref carries only one of them.
type requestBody struct {
	PaymentRequestID  string `json:"paymentRequestId,omitempty"`
	PaymentID         string `json:"paymentId,omitempty"`
	MerchantAccountID string `json:"merchantAccountId,omitempty"`
}

// Client calls AMS inquiryPayment and cancel. It signs every request with
// the merchant key and believes an answer only when its signature verifies
// with the Alipay public key. It never retries: each method makes one HTTP
// request and the caller decides what comes next. A Client is safe for
// concurrent use and reuses its connections.
type Client struct {
	cfg    Config
	base   string // scheme://host of the endpoint
	prefix string // the path up to the API name
	hc     *http.Client
}

// NewClient checks cfg, fills in its defaults and returns a Client. The error
// lists every problem in cfg, one line each.
func NewClient(cfg Config, opts ...Option) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	u, _ := url.Parse(cfg.Endpoint) // validate parsed it already
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.Timeout,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.rootCAs},
	}
	return &Client{
		cfg:    cfg,
		base:   u.Scheme + "://" + u.Host,
		prefix: pathPrefix(cfg.ClientID),
		hc: &http.Client{
			Transport: transport,
			// A redirect would resend a signed request somewhere else.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// pathPrefix returns the path every API name is appended to; sandbox client
// ids use the sandbox path, which is also the path they sign.
func pathPrefix(clientID string) string {
	if len(clientID) >= 8 && clientID[:8] == "SANDBOX_" {
		return "/ams/sandbox/api/v1/payments/"
	}
	return "/ams/api/v1/payments/"
}

// CloseIdleConnections closes the connections kept for reuse.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// Inquire asks inquiryPayment about ref. The error is nil only when the
// answer's signature verified and its resultStatus is S; then ClassOf tells a
// final paymentStatus from one that is not yet final. Otherwise the error is
// an *Error, and the response is returned beside it only when it was signed
// and parsed, for logging; it is never a success.
func (c *Client) Inquire(ctx context.Context, ref Ref) (*InquiryResponse, error) {
	ans, err := c.call(ctx, APIInquiry, ref)
	if err != nil {
		return nil, err
	}
	var resp InquiryResponse
	if err := json.Unmarshal(ans.body, &resp); err != nil {
		return nil, ans.fail(Unknown, fmt.Errorf("the signed answer is not valid inquiryPayment JSON, so the outcome is unknown: %w", err))
	}
	resp.ResponseTime = ans.time
	if err := ans.check(resp.Result, resp.PaymentRequestID, resp.PaymentID); err != nil {
		return &resp, err
	}
	return &resp, nil
}

// Cancel asks AMS to cancel the payment ref names; a paid payment is refunded
// in full. The error is nil only when the answer's signature verified and its
// resultStatus is S. Otherwise it is an *Error; after a Rejected cancel, ask
// Inquire for the payment's state.
func (c *Client) Cancel(ctx context.Context, ref Ref) (*CancelResponse, error) {
	ans, err := c.call(ctx, APICancel, ref)
	if err != nil {
		return nil, err
	}
	var resp CancelResponse
	if err := json.Unmarshal(ans.body, &resp); err != nil {
		return nil, ans.fail(Unknown, fmt.Errorf("the signed answer is not valid cancel JSON, so the outcome is unknown: %w", err))
	}
	resp.ResponseTime = ans.time
	if err := ans.check(resp.Result, resp.PaymentRequestID, resp.PaymentID); err != nil {
		return &resp, err
	}
	return &resp, nil
}

// answer is an HTTP 200 answer whose signature verified.
type answer struct {
	api    string
	ref    Ref
	status int
	body   []byte
	time   time.Time // from Response-Time; zero when it is not a number
}

// fail returns an *Error about the verified answer a.
func (a *answer) fail(class Class, cause error) *Error {
	return &Error{API: a.api, Ref: a.ref, Class: class, HTTPStatus: a.status, Verified: true, Err: cause}
}

// check returns nil when result is S and the answer is about a.ref, and the
// *Error saying why not otherwise.
func (a *answer) check(result Result, reqID, payID string) error {
	switch result.Status {
	case "S":
		if !a.ref.answers(reqID, payID) {
			return a.fail(Unknown, fmt.Errorf("the signed answer is about paymentRequestId %q, paymentId %q, not the payment asked about, so it is ignored", reqID, payID))
		}
		return nil
	case "":
		return a.fail(Unknown, errors.New("the signed answer has no result.resultStatus, so the outcome is unknown"))
	}
	e := a.fail(codeClass(result.Status, result.Code), nil)
	e.ResultStatus, e.Code, e.Message = result.Status, result.Code, result.Message
	return e
}

// call sends one signed request for api about ref and returns the answer
// once its signature has verified.
func (c *Client) call(ctx context.Context, api string, ref Ref) (*answer, error) {
	fail := func(class Class, status int, cause error) error {
		return &Error{API: api, Ref: ref, Class: class, HTTPStatus: status, Err: cause}
	}
	if err := ref.check(); err != nil {
		return nil, fail(Rejected, 0, err)
	}
	body, err := json.Marshal(requestBody{ref.PaymentRequestID, ref.PaymentID, c.cfg.MerchantAccountID})
	if err != nil {
		return nil, fail(Rejected, 0, err)
	}
	path := c.prefix + api
	now := strconv.FormatInt(c.cfg.Now().UnixMilli(), 10)
	sig, err := SignContent(c.cfg.PrivateKey, http.MethodPost, path, c.cfg.ClientID, now, body)
	if err != nil {
		return nil, fail(Operator, 0, err)
	}

	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, fail(Unknown, 0, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("Client-Id", c.cfg.ClientID)
	req.Header.Set("Request-Time", now)
	req.Header.Set("Signature", Signature{Algorithm: "RSA256", KeyVersion: c.cfg.KeyVersion, Value: sig}.HeaderValue())

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fail(Unknown, 0, c.noAnswer(ctx, err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return nil, fail(Unknown, resp.StatusCode, c.noAnswer(ctx, err))
	}
	if len(raw) > MaxBody {
		return nil, fail(Unknown, resp.StatusCode, errors.New("the answer is over 1 MiB, larger than any AMS answer, so it is ignored and the outcome is unknown"))
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, fail(RateLimited, resp.StatusCode, nil)
	case resp.StatusCode != http.StatusOK:
		return nil, fail(Unknown, resp.StatusCode, nil)
	}

	// Verify before reading anything in the body (docs/design.md, rule 3).
	unverified := func(cause error) error { return fail(Unknown, resp.StatusCode, cause) }
	header := resp.Header.Get("Signature")
	if header == "" {
		return nil, unverified(errors.New("the answer is unsigned, so it proves nothing and the outcome is unknown"))
	}
	s, err := ParseSignature(header)
	if err != nil {
		return nil, unverified(fmt.Errorf("the answer's signature is unreadable, so the outcome is unknown: %w", err))
	}
	if id := resp.Header.Get("Client-Id"); id != "" && id != c.cfg.ClientID {
		return nil, unverified(fmt.Errorf("the answer is for client id %q, not %q, so it is ignored", id, c.cfg.ClientID))
	}
	respTime := resp.Header.Get("Response-Time")
	if err := VerifyContent(c.cfg.AlipayPublicKey, http.MethodPost, path, c.cfg.ClientID, respTime, raw, s.Value); err != nil {
		return nil, unverified(fmt.Errorf("the answer's signature does not verify with the Alipay public key, so it proves nothing and the outcome is unknown: %w", err))
	}
	ans := &answer{api: api, ref: ref, status: resp.StatusCode, body: raw}
	if ms, err := strconv.ParseInt(respTime, 10, 64); err == nil {
		ans.time = time.UnixMilli(ms)
	}
	return ans, nil
}

// noAnswer words a transport error; err is kept in the chain.
func (c *Client) noAnswer(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer from Alipay before the deadline (timeout %v), so the outcome is unknown: %w", c.cfg.Timeout, err)
	}
	return fmt.Errorf("no answer from Alipay, so the outcome is unknown: %w", err)
}
