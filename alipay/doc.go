// Package alipay is the client for Alipay's AMS payment API: it signs requests,
// verifies the signatures of responses, calls inquiryPayment and cancel, and
// classifies every answer into an outcome the scheduler can act on.
//
// The contract of Client.Inquire and Client.Cancel is narrow on purpose: the
// error is nil only for an answer whose signature verified with the Alipay
// public key and whose result.resultStatus is S. Anything else is an *Error
// whose Class says what to do next (ask again, slow down, call a person, or
// treat this one call as refused), so callers never read AMS result codes.
// An answer that is unsigned or whose signature does not verify is never
// believed, whatever it says; it is Unknown.
//
// SignContent, VerifyContent and ParseSignature are exported for the fake
// server in alipay/alipaysim and for diagnostics. Key files are read by
// LoadPrivateKey and LoadPublicKey. Nothing in this package logs, and no error
// it returns holds key material or a whole signature.
package alipay
