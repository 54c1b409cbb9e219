package alipay

import (
	"encoding/json"
	"time"
)

// Result is the result object every AMS response carries.
type Result struct {
	Status  string `json:"resultStatus"` // S, F or U
	Code    string `json:"resultCode"`
	Message string `json:"resultMessage"`
}

// Payment statuses of an inquiryPayment answer. SUCCESS, FAIL and CANCELLED
// are final; PROCESSING (and any status this package does not know) is not.
const (
	StatusSuccess    = "SUCCESS"
	StatusFail       = "FAIL"
	StatusCancelled  = "CANCELLED"
	StatusProcessing = "PROCESSING"
)

// InquiryResponse is the body of an inquiryPayment answer. Times are kept as
// the RFC 3339 strings AMS sends, so that an unexpected format never makes a
// whole answer unreadable. Fields AMS adds later are ignored.
type InquiryResponse struct {
	Result                Result              `json:"result"`
	PaymentStatus         string              `json:"paymentStatus"`
	PaymentResultCode     string              `json:"paymentResultCode"`
	PaymentResultMessage  string              `json:"paymentResultMessage"`
	PaymentRequestID      string              `json:"paymentRequestId"`
	PaymentID             string              `json:"paymentId"`
	PaymentAmount         Amount              `json:"paymentAmount"`
	AuthExpiryTime        string              `json:"authExpiryTime"`
	PaymentCreateTime     string              `json:"paymentCreateTime"`
	PaymentTime           string              `json:"paymentTime"`
	PSPCustomerInfo       *PSPCustomerInfo    `json:"pspCustomerInfo"`
	RedirectActionForm    *RedirectActionForm `json:"redirectActionForm"`
	Transactions          []Transaction       `json:"transactions"`
	GrossSettlementAmount *Amount             `json:"grossSettlementAmount"`
	SettlementQuote       *Quote              `json:"settlementQuote"`

	// ResponseTime is Alipay's clock as stated by the signed Response-Time
	// header; zero when the header was not a number. It is not part of the body.
	ResponseTime time.Time `json:"-"`
}

// Final reports whether the answer's paymentStatus is final: SUCCESS, FAIL or
// CANCELLED. It says nothing about whether the answer is trustworthy; only a
// nil error from Client.Inquire says that.
func (r *InquiryResponse) Final() bool {
	switch r.PaymentStatus {
	case StatusSuccess, StatusFail, StatusCancelled:
		return true
	}
	return false
}

// PSPCustomerInfo describes the payer's wallet. It is customer data: log ids
// only (docs/design.md, rule 7).
type PSPCustomerInfo struct {
	PSPName           string `json:"pspName"`
	PSPCustomerID     string `json:"pspCustomerId"`
	DisplayCustomerID string `json:"displayCustomerId"`
}

// RedirectActionForm is the redirect AMS asks the payer to follow, if any.
type RedirectActionForm struct {
	Method         string `json:"method"`
	Parameters     string `json:"parameters"`
	RedirectURL    string `json:"redirectUrl"`
	ActionFormType string `json:"actionFormType"`
}

// Transaction is a follow-up transaction on a payment, such as a cancel or a
// refund.
type Transaction struct {
	Result    Result `json:"transactionResult"`
	ID        string `json:"transactionId"`
	Type      string `json:"transactionType"`
	Status    string `json:"transactionStatus"`
	Amount    Amount `json:"transactionAmount"`
	RequestID string `json:"transactionRequestId"`
	Time      string `json:"transactionTime"`
}

// Quote is the exchange rate quote a settlement used.
type Quote struct {
	QuoteID           string      `json:"quoteId"`
	QuoteCurrencyPair string      `json:"quoteCurrencyPair"`
	QuotePrice        json.Number `json:"quotePrice"` // AMS sends a decimal, as number or string
	QuoteStartTime    string      `json:"quoteStartTime"`
	QuoteExpiryTime   string      `json:"quoteExpiryTime"`
	Guaranteed        bool        `json:"guaranteed"`
}

// CancelResponse is the body of a cancel answer.
type CancelResponse struct {
	Result           Result `json:"result"`
	PaymentID        string `json:"paymentId"`
	PaymentRequestID string `json:"paymentRequestId"`
	CancelTime       string `json:"cancelTime"`

	// ResponseTime is as in InquiryResponse.
	ResponseTime time.Time `json:"-"`
}
