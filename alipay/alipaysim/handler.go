package alipaysim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/posagent/posagent/alipay"
)

// Paths the server serves; sandbox client ids use the sandbox ones.
const (
	livePrefix    = "/ams/api/v1/payments/"
	sandboxPrefix = "/ams/sandbox/api/v1/payments/"
)

// signing says how an answer is signed.
type signing int

const (
	signed   signing = iota
	forged           // a valid signature over other content
	unsigned         // no Signature header
)

// reply is an answer chosen for a request, sent after delay.
type reply struct {
	status  int
	body    []byte
	signing signing
	delay   time.Duration
	now     time.Time // the server's skewed clock when the answer was chosen
}

// inquiryTimeZone is the zone AMS writes times in.
var inquiryTimeZone = time.FixedZone("UTC+8", 8*60*60)

// ServeHTTP answers one AMS request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, alipay.MaxBody+1))
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	s.mu.Lock()
	rep := s.decide(r, body)
	s.mu.Unlock()

	if rep.delay > 0 {
		t := time.NewTimer(rep.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			panic(http.ErrAbortHandler)
		case <-s.done:
			panic(http.ErrAbortHandler)
		}
	}
	h := w.Header()
	h.Set("Date", rep.now.UTC().Format(http.TimeFormat))
	if rep.status != http.StatusOK {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(rep.status)
		w.Write(rep.body)
		return
	}
	respTime := strconv.FormatInt(rep.now.UnixMilli(), 10)
	clientID := r.Header.Get("Client-Id")
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Client-Id", clientID)
	h.Set("Response-Time", respTime)
	if rep.signing != unsigned {
		content := rep.body
		if rep.signing == forged {
			content = append([]byte(`{"forged":true}`), rep.body...)
		}
		sig, err := alipay.SignContent(s.alipayKey, r.Method, r.URL.Path, clientID, respTime, content)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		h.Set("Signature", alipay.Signature{Algorithm: "RSA256", KeyVersion: 1, Value: sig}.HeaderValue())
	}
	w.WriteHeader(http.StatusOK)
	w.Write(rep.body)
}

// decide checks the request as AMS would, plays the script, records the
// call and returns the answer; s.mu must be held.
func (s *Server) decide(r *http.Request, body []byte) reply {
	now := s.clock()
	call := Call{Time: now, Path: r.URL.Path, ClientID: r.Header.Get("Client-Id")}
	rep, answer := s.choose(r, body, now, &call)
	rep.now = now
	call.Answer = answer
	s.record(call)
	return rep
}

// choose returns the answer to r and its description for Call.Answer,
// filling in call's API and ids as they become known.
func (s *Server) choose(r *http.Request, body []byte, now time.Time, call *Call) (reply, string) {
	prefix := livePrefix
	if strings.HasPrefix(s.ClientID, "SANDBOX_") {
		prefix = sandboxPrefix
	}
	switch r.URL.Path {
	case prefix + alipay.APIInquiry:
		call.API = alipay.APIInquiry
	case prefix + alipay.APICancel:
		call.API = alipay.APICancel
	default:
		return refuse("F", "NO_INTERFACE_DEF", "API is not defined.")
	}
	if r.Method != http.MethodPost {
		return refuse("F", "METHOD_NOT_SUPPORTED", "The server does not implement the requested HTTP method.")
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return refuse("F", "MEDIA_TYPE_NOT_ACCEPTABLE", "The server does not implement the media type that is acceptable to the client.")
	}
	if call.ClientID != s.ClientID {
		return refuse("F", "CLIENT_INVALID", "The client ID is invalid.")
	}
	sig, err := alipay.ParseSignature(r.Header.Get("Signature"))
	if err != nil {
		return refuse("F", "INVALID_SIGNATURE", "The signature is invalid.")
	}
	if sig.KeyVersion != 0 && sig.KeyVersion != s.keyVersion {
		return refuse("F", "KEY_NOT_FOUND", "The key is not found.")
	}
	reqTime := r.Header.Get("Request-Time")
	if err := alipay.VerifyContent(&s.MerchantKey.PublicKey, r.Method, r.URL.Path, call.ClientID, reqTime, body, sig.Value); err != nil {
		return refuse("F", "INVALID_SIGNATURE", "The signature is invalid.")
	}
	if s.tolerance > 0 {
		ms, err := strconv.ParseInt(reqTime, 10, 64)
		if d := now.Sub(time.UnixMilli(ms)); err != nil || d > s.tolerance || d < -s.tolerance {
			return refuse("F", "INVALID_SIGNATURE", "The signature is invalid: the request time is out of range.")
		}
	}
	var req struct {
		PaymentRequestID  string `json:"paymentRequestId"`
		PaymentID         string `json:"paymentId"`
		MerchantAccountID string `json:"merchantAccountId"`
	}
	if len(body) > alipay.MaxBody || json.Unmarshal(body, &req) != nil {
		return refuse("F", "PARAM_ILLEGAL", "The request body is not valid JSON.")
	}
	call.PaymentRequestID, call.PaymentID, call.MerchantAccountID = req.PaymentRequestID, req.PaymentID, req.MerchantAccountID
	var p *payment
	switch {
	case req.PaymentID != "": // AMS lets paymentId win when both are given
		p = s.byPaymentID[req.PaymentID]
	case req.PaymentRequestID != "":
		p = s.payments[req.PaymentRequestID]
	default:
		return refuse("F", "PARAM_ILLEGAL", "paymentRequestId or paymentId is required.")
	}
	if p == nil {
		return refuse("F", "ORDER_NOT_EXIST", "The order does not exist.")
	}
	if call.API == alipay.APICancel {
		return s.cancel(p, now)
	}
	return s.inquire(p, now)
}

// inquire plays the next inquiry step of p.
func (s *Server) inquire(p *payment, now time.Time) (reply, string) {
	if !p.cancelled.IsZero() {
		return inquiryAnswer(p, now, alipay.StatusCancelled, "", p.amount), "S CANCELLED"
	}
	st, ok := p.inquiries.next()
	if !ok {
		st = Processing(1)
	}
	switch st.kind {
	case stepSuccess:
		rep := inquiryAnswer(p, now, alipay.StatusSuccess, "", p.amount)
		if st.delay > 0 {
			rep.delay = st.delay
			return rep, fmt.Sprintf("S SUCCESS after %v", st.delay)
		}
		return rep, "S SUCCESS"
	case stepFail:
		return inquiryAnswer(p, now, alipay.StatusFail, st.code, p.amount), "S FAIL " + st.code
	case stepMismatched:
		return inquiryAnswer(p, now, alipay.StatusSuccess, "", st.amount), "S SUCCESS " + st.amount.String()
	case stepForged:
		rep := inquiryAnswer(p, now, alipay.StatusSuccess, "", p.amount)
		rep.signing = forged
		return rep, "forged S SUCCESS"
	case stepUnsigned:
		rep := inquiryAnswer(p, now, alipay.StatusSuccess, "", p.amount)
		rep.signing = unsigned
		return rep, "unsigned S SUCCESS"
	case stepSlow:
		rep := inquiryAnswer(p, now, alipay.StatusProcessing, "", p.amount)
		rep.delay = st.delay
		return rep, fmt.Sprintf("S PROCESSING after %v", st.delay)
	case stepProcessing:
		return inquiryAnswer(p, now, alipay.StatusProcessing, "", p.amount), "S PROCESSING"
	}
	return fault(st, inquiryAnswer(p, now, alipay.StatusProcessing, "", p.amount))
}

// cancel plays the next cancel step of p. A cancel takes effect on every
// step that answers S, even when that answer is then forged, unsigned or
// slower than the caller waits.
func (s *Server) cancel(p *payment, now time.Time) (reply, string) {
	st, scripted := p.cancels.next()
	if !scripted {
		st = Success()
	}
	switch st.kind {
	case stepUnknown, stepRateLimited, stepRefuse, stepHTTP500, stepNotJSON, stepOversized:
		return fault(st, cancelAnswer(p, now))
	}
	if p.cancelled.IsZero() {
		p.cancelled = now
	}
	rep := cancelAnswer(p, now)
	switch st.kind {
	case stepForged:
		rep.signing = forged
		return rep, "forged S"
	case stepUnsigned:
		rep.signing = unsigned
		return rep, "unsigned S"
	case stepSlow:
		rep.delay = st.delay
		return rep, fmt.Sprintf("S after %v", st.delay)
	}
	return rep, "S"
}
