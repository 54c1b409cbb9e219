package alipay

import (
	"fmt"
	"strings"
)

// Error is every failure of Client.Inquire and Client.Cancel: anything but a
// verified answer with resultStatus S. Class says what to do next; the other
// fields say what happened, for logs. It never holds key material or a whole
// signature.
type Error struct {
	API          string // "inquiryPayment" or "cancel"
	Ref          Ref    // the payment asked about
	Class        Class
	ResultStatus string // F or U from a verified answer; empty otherwise
	Code         string // resultCode of a verified answer
	Message      string // resultMessage of a verified answer
	HTTPStatus   int    // 0 when no HTTP answer arrived
	Verified     bool   // the answer's signature verified with the Alipay public key
	Err          error  // the cause, when there is one besides the answer
}

// maxMessage bounds how much of AMS's resultMessage an error repeats.
const maxMessage = 200

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "alipay %s for %s: ", e.API, e.Ref)
	switch {
	case e.ResultStatus != "":
		fmt.Fprintf(&b, "Alipay answered %s %s", e.ResultStatus, e.Code)
		if e.Message != "" {
			msg := e.Message
			if len(msg) > maxMessage {
				msg = msg[:maxMessage] + "..."
			}
			fmt.Fprintf(&b, " (%q)", msg)
		}
		b.WriteString(e.hint())
	case e.Err != nil:
		b.WriteString(e.Err.Error()) // causes made here say what to do
	case e.HTTPStatus != 0:
		fmt.Fprintf(&b, "Alipay answered HTTP %d", e.HTTPStatus)
		b.WriteString(e.hint())
	default:
		b.WriteString("the call failed")
		b.WriteString(e.hint())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// hint says what the class of a verified answer asks of the reader.
func (e *Error) hint() string {
	switch e.Class {
	case Operator:
		h := "; the credentials or the contract are wrong: check client_id, the key files and key_version in [alipay]"
		if e.Code == "INVALID_SIGNATURE" {
			h += ", and the terminal clock, since a clock that is off also causes this"
		}
		return h
	case RateLimited:
		return "; too many calls, ask again more slowly"
	case Rejected:
		return "; the call was refused for this payment"
	case Unknown:
		return "; the outcome is unknown, ask again later"
	}
	return ""
}
