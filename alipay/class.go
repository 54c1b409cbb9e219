package alipay

import (
	"errors"
	"strconv"
)

// Class is what an answer means for the caller's next step. It lets the
// scheduler act without reading AMS result codes.
type Class int

const (
	// Unknown: nothing was proven. resultStatus U, a timeout, a connection
	// error, HTTP 5xx, a body that is not JSON or is over 1 MiB, an answer
	// without a valid signature (even one saying F), or one naming another
	// payment. Ask again later with the same parameters. It is the zero Class.
	Unknown Class = iota
	// Final: a verified S answer with paymentStatus SUCCESS, FAIL or
	// CANCELLED; for cancel, a verified S answer.
	Final
	// NotFinal: a verified S answer whose paymentStatus is PROCESSING, or a
	// status this package does not know, which is never taken as final.
	NotFinal
	// RateLimited: AMS answered REQUEST_TRAFFIC_EXCEED_LIMIT (or HTTP 429):
	// ask again, more slowly.
	RateLimited
	// Operator: a verified F answer saying the credentials or the contract are
	// wrong (CLIENT_INVALID, INVALID_SIGNATURE, KEY_NOT_FOUND, ACCESS_DENIED,
	// ...). No payment will get through until a person fixes the configuration.
	Operator
	// Rejected: a verified F answer refusing this call for this payment
	// (ORDER_NOT_EXIST, PARAM_ILLEGAL, ORDER_IS_CLOSED, CANCEL_WINDOW_EXCEED,
	// PROCESS_FAIL, ...). It is never proof of the payment's state: after a
	// rejected cancel, ask inquiryPayment for the truth. A verified F with a
	// code this package does not know is Rejected too, since it concerns
	// this one call; only known credential and contract codes stop all
	// traffic as Operator does.
	Rejected
)

// String returns the class in lower case, e.g. "not final", for logs.
func (c Class) String() string {
	switch c {
	case Unknown:
		return "unknown"
	case Final:
		return "final"
	case NotFinal:
		return "not final"
	case RateLimited:
		return "rate limited"
	case Operator:
		return "operator action needed"
	case Rejected:
		return "rejected"
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// ClassOf returns the class of the outcome of Client.Inquire.
func ClassOf(resp *InquiryResponse, err error) Class {
	if err != nil {
		return errorClass(err)
	}
	if resp == nil || resp.Result.Status != "S" {
		return Unknown
	}
	if resp.Final() {
		return Final
	}
	return NotFinal
}

// CancelClassOf returns the class of the outcome of Client.Cancel: Final for
// a verified S, otherwise the class of the error.
func CancelClassOf(resp *CancelResponse, err error) Class {
	if err != nil {
		return errorClass(err)
	}
	if resp == nil || resp.Result.Status != "S" {
		return Unknown
	}
	return Final
}

// errorClass returns the Class of an *Error in err's chain, and Unknown for
// any other error.
func errorClass(err error) Class {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Class
	}
	return Unknown
}

// codeClass classifies a verified answer whose resultStatus is not S.
func codeClass(status, code string) Class {
	if code == "REQUEST_TRAFFIC_EXCEED_LIMIT" {
		return RateLimited
	}
	if status != "F" {
		return Unknown // U, or a status AMS does not define
	}
	if operatorCode(code) {
		return Operator
	}
	return Rejected
}

// operatorCode reports whether an F resultCode means the merchant's
// credentials, keys or contract are wrong rather than anything about the
// payment asked for.
func operatorCode(code string) bool {
	switch code {
	case "CLIENT_INVALID", "INVALID_CLIENT", "INVALID_CLIENT_STATUS",
		"INVALID_SIGNATURE", "KEY_NOT_FOUND", "ACCESS_DENIED",
		"MERCHANT_NOT_REGISTERED", "INVALID_MERCHANT_STATUS",
		"MERCHANT_KYB_NOT_QUALIFIED", "INVALID_CONTRACT",
		"NO_INTERFACE_DEF", "INVALID_API", "API_INVALID",
		"METHOD_NOT_SUPPORTED", "MEDIA_TYPE_NOT_ACCEPTABLE":
		return true
	}
	return false
}
