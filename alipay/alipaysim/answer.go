package alipaysim

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/posagent/posagent/alipay"
)

// result is the result object of an answer.
func result(status, code, message string) map[string]string {
	return map[string]string{"resultStatus": status, "resultCode": code, "resultMessage": message}
}

func succeeded() map[string]string { return result("S", "SUCCESS", "success") }

// jsonReply is a signed HTTP 200 answer with body v.
func jsonReply(v any) reply {
	b, err := json.Marshal(v)
	if err != nil {
		panic("alipaysim: encoding an answer: " + err.Error())
	}
	return reply{status: http.StatusOK, body: b}
}

// refuse is a signed answer with only a result, and its Call.Answer.
func refuse(status, code, message string) (reply, string) {
	return jsonReply(map[string]any{"result": result(status, code, message)}), status + " " + code
}

// fault answers the steps that do not depend on the API; ok is the S answer
// Oversized pads.
func fault(st Step, ok reply) (reply, string) {
	switch st.kind {
	case stepUnknown:
		return refuse("U", "UNKNOWN_EXCEPTION", "An API call failed, which is caused by unknown reasons.")
	case stepRateLimited:
		return refuse("U", "REQUEST_TRAFFIC_EXCEED_LIMIT", "The request traffic exceeds the limit.")
	case stepRefuse:
		return refuse("F", st.code, "Refused by the script.")
	case stepHTTP500:
		return reply{status: http.StatusInternalServerError, body: []byte("internal server error\n")}, "HTTP 500"
	case stepNotJSON:
		return reply{status: http.StatusOK, body: []byte("<html><body>Service Unavailable</body></html>")}, "not JSON"
	case stepOversized:
		var v map[string]any
		if err := json.Unmarshal(ok.body, &v); err != nil {
			panic("alipaysim: " + err.Error())
		}
		v["padding"] = strings.Repeat("x", alipay.MaxBody)
		return jsonReply(v), "oversized"
	}
	panic("alipaysim: unexpected step " + st.String())
}

// amsTime formats t as AMS does, RFC 3339 in UTC+8.
func amsTime(t time.Time) string { return t.In(inquiryTimeZone).Format(time.RFC3339) }

// inquiryAnswer is a signed S inquiryPayment answer about p with the given
// paymentStatus, paymentResultCode (FAIL only) and amount.
func inquiryAnswer(p *payment, now time.Time, status, code string, amount alipay.Amount) reply {
	v := map[string]any{
		"result":            succeeded(),
		"paymentStatus":     status,
		"paymentRequestId":  p.requestID,
		"paymentId":         p.paymentID,
		"paymentAmount":     amount,
		"paymentCreateTime": amsTime(p.created),
	}
	switch status {
	case alipay.StatusProcessing:
		v["paymentResultCode"] = "PAYMENT_IN_PROCESS"
		v["paymentResultMessage"] = "payment in process"
	case alipay.StatusSuccess:
		v["paymentResultCode"] = "SUCCESS"
		v["paymentResultMessage"] = "success"
		v["paymentTime"] = amsTime(now)
		v["pspCustomerInfo"] = map[string]string{"pspName": "ALIPAY_CN", "pspCustomerId": "2088000000000000"}
		v["grossSettlementAmount"] = amount
		v["settlementQuote"] = map[string]any{
			"quoteId":           "QUOTE-" + p.paymentID,
			"quoteCurrencyPair": amount.Currency + "/" + amount.Currency,
			"quotePrice":        1.0,
			"quoteStartTime":    amsTime(p.created),
			"quoteExpiryTime":   amsTime(p.created.Add(24 * time.Hour)),
			"guaranteed":        false,
		}
	case alipay.StatusFail:
		v["paymentResultCode"] = code
		v["paymentResultMessage"] = "payment failed"
	case alipay.StatusCancelled:
		v["paymentResultCode"] = "ORDER_IS_CLOSED"
		v["paymentResultMessage"] = "the payment is cancelled"
		v["transactions"] = []any{map[string]any{
			"transactionResult":    succeeded(),
			"transactionId":        "C" + p.paymentID,
			"transactionType":      "CANCEL",
			"transactionStatus":    "SUCCESS",
			"transactionAmount":    amount,
			"transactionRequestId": p.requestID,
			"transactionTime":      amsTime(p.cancelled),
		}}
	}
	return jsonReply(v)
}

// cancelAnswer is a signed S cancel answer about p.
func cancelAnswer(p *payment, now time.Time) reply {
	t := p.cancelled
	if t.IsZero() {
		t = now
	}
	return jsonReply(map[string]any{
		"result":           succeeded(),
		"paymentRequestId": p.requestID,
		"paymentId":        p.paymentID,
		"cancelTime":       amsTime(t),
	})
}
