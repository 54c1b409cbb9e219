package status

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/posagent/posagent/queue"
)

// FuzzRequest sends fuzzed requests (method, target, one header) to the
// status server over a real store that works, parsed from the wire the way
// the HTTP server parses them: no request makes it panic or answer 5xx
// (only a store error may), and every JSON answer is valid JSON, a list of
// payments for a 200 from /api/payments.
func FuzzRequest(f *testing.F) {
	fx := newFixture(f)
	h := fx.server()
	for _, target := range []string{
		"/", "/page.css", "/healthz", "/metrics", "/api/status",
		"/api/payments", "/api/payments?state=pending,SUCCESS&state=fail", "/api/payments?state=DONE",
		"/api/payments?since=2026-11-30", "/api/payments?since=2026-11-30T08:00:00%2B08:00&limit=2",
		"/api/payments?since=yesterday", "/api/payments?follow_up=true&limit=-1", "/api/payments?limit=99999999999999999999",
		"/api/payments?follow_up=maybe", "/api/payments?state=%00", "/api/payments/pos-pending-1",
		"/api/payments/pos-delivered-4", "/api/payments/nope", "/api/payments/%2e%2e", "/api/payments/a/b",
		"/../api/status", "//api//payments", "/api/payments?;x=1", "/nothing",
	} {
		f.Add("GET", target, "Accept", "application/json")
	}
	f.Add("HEAD", "/api/status", "", "")
	f.Add("POST", "/api/payments", "Content-Length", "0")
	f.Add("GET", "/metrics", "Accept-Encoding", "gzip")
	f.Add("GET", "/metrics", "Accept", "application/openmetrics-text; version=1.0.0")
	f.Add("GET", "http://localhost/api/payments/pos-pending-1", "Host", "example.com")
	f.Add("OPTIONS", "*", "", "")

	f.Fuzz(func(t *testing.T, method, target, name, value string) {
		var raw strings.Builder
		raw.WriteString(method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n")
		if name != "" {
			raw.WriteString(name + ": " + value + "\r\n")
		}
		raw.WriteString("\r\n")
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw.String())))
		if err != nil {
			return // the server would refuse it before any handler
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q answered %d: %s", method, target, rec.Code, rec.Body)
		}
		ctype := rec.Header().Get("Content-Type")
		if !strings.HasPrefix(ctype, "application/json") || req.Method == http.MethodHead {
			return
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %q answered invalid JSON: %q", method, target, rec.Body)
		}
		if rec.Code == http.StatusOK && req.URL.Path == "/api/payments" {
			var ps []queue.Payment
			if err := json.Unmarshal(rec.Body.Bytes(), &ps); err != nil || ps == nil {
				t.Fatalf("%s %q answered %q, not a list of payments: %v", method, target, rec.Body, err)
			}
		}
	})
}
