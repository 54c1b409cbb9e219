package alipay_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/posagent/posagent/alipay"
)

// fuzzAnswer is what the fuzzing server answers to the next call.
type fuzzAnswer struct {
	status   int
	signed   bool   // sign body and Response-Time with the Alipay key
	header   string // the Signature header when unsigned; extra parts before the signature when signed
	clientID string // the Client-Id header; none when empty
	respTime string // the Response-Time header
	body     []byte
}

// fuzzServer is an HTTP server on loopback that plays one fuzzAnswer per
// call. Fuzzing calls one input at a time, so one answer is enough.
type fuzzServer struct {
	mu   sync.Mutex
	next fuzzAnswer
}

func (s *fuzzServer) set(a fuzzAnswer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = a
}

func (s *fuzzServer) handler(t testing.TB, clientID string) http.HandlerFunc {
	priv, _ := vectorKeys(t)
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		a := s.next
		s.mu.Unlock()
		h := w.Header()
		sig := a.header
		if a.signed {
			// The signature covers the client's own id, as AMS signs it,
			// whatever Client-Id header the answer carries.
			v, err := alipay.SignContent(priv, r.Method, r.URL.Path, clientID, a.respTime, a.body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			sig = alipay.Signature{Algorithm: "RSA256", KeyVersion: 1, Value: v}.HeaderValue()
			if a.header != "" {
				sig = a.header + "," + sig
			}
		}
		if sig != "" {
			h.Set("Signature", sig)
		}
		if a.clientID != "" {
			h.Set("Client-Id", a.clientID)
		}
		if a.respTime != "" {
			h.Set("Response-Time", a.respTime)
		}
		w.WriteHeader(a.status)
		w.Write(a.body)
	}
}

// digits reports whether s is a plain decimal number, which no HTTP layer
// rewrites on its way.
func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// FuzzAnswer sends fuzzed AMS answers (status, Signature, Client-Id and
// Response-Time headers, body), half of them correctly signed with the
// Alipay key, through the real client over loopback HTTP, and checks the
// money-safety invariants: no panic; a nil error only for a verified HTTP
// 200 answer with resultStatus S; an answer that does not verify is never
// Final or NotFinal and never comes back as a response, so a SUCCESS is
// never taken from it; a correctly signed answer is verified.
func FuzzAnswer(f *testing.F) {
	const clientID = "5X00000000000000"
	srv := &fuzzServer{}
	ts := httptest.NewServer(srv.handler(f, clientID))
	f.Cleanup(ts.Close)
	_, pub := vectorKeys(f)
	priv, _ := vectorKeys(f)
	c, err := alipay.NewClient(alipay.Config{Endpoint: ts.URL, ClientID: clientID, PrivateKey: priv, AlipayPublicKey: pub, Timeout: 10 * time.Second})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(c.CloseIdleConnections)

	now := strconv.FormatInt(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC).UnixMilli(), 10)
	bodies := []string{
		`{"result":{"resultStatus":"S","resultCode":"SUCCESS","resultMessage":"success"},"paymentStatus":"SUCCESS","paymentRequestId":"R1","paymentId":"P1","paymentAmount":{"currency":"USD","value":"500"}}`,
		`{"result":{"resultStatus":"S","resultCode":"SUCCESS"},"paymentStatus":"PROCESSING","paymentRequestId":"R1"}`,
		`{"result":{"resultStatus":"S","resultCode":"SUCCESS"},"paymentStatus":"FAIL","paymentResultCode":"USER_BALANCE_NOT_ENOUGH"}`,
		`{"result":{"resultStatus":"S","resultCode":"SUCCESS"},"paymentStatus":"SUCCESS","paymentRequestId":"OTHER"}`,
		`{"result":{"resultStatus":"U","resultCode":"REQUEST_TRAFFIC_EXCEED_LIMIT"}}`,
		`{"result":{"resultStatus":"U","resultCode":"UNKNOWN_EXCEPTION"}}`,
		`{"result":{"resultStatus":"F","resultCode":"INVALID_SIGNATURE"}}`,
		`{"result":{"resultStatus":"F","resultCode":"ORDER_NOT_EXIST"}}`,
		`{"result":{"resultStatus":"S"},"paymentId":"P1","cancelTime":"2026-11-30T20:00:00+08:00"}`,
		`{"paymentStatus":"SUCCESS"}`,
		`{"result":{"resultStatus":"S"},"settlementQuote":{"quotePrice":"7.1"},"transactions":[{"transactionAmount":{"value":1}}]}`,
		`not json`,
		``,
	}
	for i, b := range bodies {
		f.Add(uint16(200), true, "", "", now, []byte(b), i%2 == 1)
		f.Add(uint16(200), false, "algorithm=RSA256,keyVersion=1,signature=AAAA", clientID, now, []byte(b), i%2 == 0)
	}
	f.Add(uint16(200), true, "", clientID, now, []byte(bodies[0]), false)
	f.Add(uint16(200), true, "", "5X00000000000001", now, []byte(bodies[0]), false)
	f.Add(uint16(200), true, "keyVersion=2", "", "", []byte(bodies[0]), false)
	f.Add(uint16(200), true, "algorithm=RSA512", "", now, []byte(bodies[0]), false)
	f.Add(uint16(200), true, "junk", "", now, []byte(bodies[0]), true)
	f.Add(uint16(200), false, "algorithm=RSA256,signature=%zz", "", now, []byte(bodies[0]), false)
	f.Add(uint16(200), false, "", "", now, []byte(bodies[0]), false)
	f.Add(uint16(429), true, "", "", now, []byte(bodies[0]), false)
	f.Add(uint16(500), true, "", "", now, []byte(bodies[0]), false)
	f.Add(uint16(307), false, "", "", now, []byte(bodies[0]), true)

	f.Fuzz(func(t *testing.T, status uint16, signed bool, header, answerClientID, respTime string, body []byte, cancel bool) {
		code := int(status)
		if code < 200 || code > 599 {
			code = 200 // informational and invalid codes are not answers
		}
		srv.set(fuzzAnswer{status: code, signed: signed, header: header, clientID: answerClientID, respTime: respTime, body: body})
		ref := alipay.Ref{PaymentRequestID: "R1"}
		var (
			class         alipay.Class
			result        *alipay.Result
			paymentStatus string
			err           error
		)
		if cancel {
			var resp *alipay.CancelResponse
			resp, err = c.Cancel(t.Context(), ref)
			class = alipay.CancelClassOf(resp, err)
			if resp != nil {
				result = &resp.Result
			}
		} else {
			var resp *alipay.InquiryResponse
			resp, err = c.Inquire(t.Context(), ref)
			class = alipay.ClassOf(resp, err)
			if resp != nil {
				result, paymentStatus = &resp.Result, resp.PaymentStatus
			}
		}
		sameClient := answerClientID == "" || answerClientID == clientID

		var e *alipay.Error
		if err != nil {
			var ok bool
			if e, ok = errors.AsType[*alipay.Error](err); !ok {
				t.Fatalf("error %v (%T) is not an *alipay.Error", err, err)
			}
			if e.Verified && (!signed || code != 200 || !sameClient) {
				t.Fatalf("an answer that cannot verify (signed %v, HTTP %d, Client-Id %q) is called verified: %v", signed, code, answerClientID, err)
			}
			if result != nil && !e.Verified {
				t.Fatalf("a response came back beside an unverified answer: %v", err)
			}
		} else {
			if !signed || code != 200 || !sameClient {
				t.Fatalf("nil error for an answer that cannot verify (signed %v, HTTP %d, Client-Id %q)", signed, code, answerClientID)
			}
			var got struct {
				Result struct {
					Status string `json:"resultStatus"`
				} `json:"result"`
			}
			if json.Unmarshal(body, &got) != nil || got.Result.Status != "S" || result == nil || result.Status != "S" {
				t.Fatalf("nil error for an answer whose resultStatus is not S: %q", body)
			}
		}
		switch {
		case (class == alipay.Final || class == alipay.NotFinal) && err != nil:
			t.Fatalf("class %v with error %v", class, err)
		case err == nil && class != alipay.Final && class != alipay.NotFinal:
			t.Fatalf("class %v of a verified S answer", class)
		case err == nil && paymentStatus == alipay.StatusSuccess && class != alipay.Final:
			t.Fatalf("a verified SUCCESS is %v, want final", class)
		case !signed && class != alipay.Unknown && class != alipay.RateLimited:
			t.Fatalf("an unsigned answer is %v, want unknown or rate limited", class)
		}
		// A correctly signed 200 answer whose headers no HTTP layer
		// rewrites must verify, so that its body is read.
		if signed && code == 200 && header == "" && sameClient && digits(respTime) && e != nil && e.HTTPStatus == 200 && !e.Verified {
			t.Fatalf("a correctly signed answer did not verify: %v", e)
		}
	})
}
