// Package alipay is the client for Alipay's AMS payment API: it signs requests,
// verifies the signatures of responses, calls inquiryPayment and cancel, and
// classifies every answer into an outcome the scheduler can act on.
package alipay
