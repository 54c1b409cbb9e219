// Package report makes the end-of-day report of a terminal: for one day,
// by currency, how many payments ended SUCCESS, FAIL and CANCELLED and
// what they came to, which are still open, which are flagged for a
// person and why, and which results the register has not confirmed yet.
// It is what a cashier prints at closing.
//
// It owns what belongs to a day (day.go), the totals (report.go) and how
// they are written for people and scripts (output.go). `posagent report`
// in cmd/posagent and /api/report and the page of agent/status wire it to
// the store.
//
// A payment belongs to the day on which it was accepted (the PAY was
// stored, Payment.AcceptedAt), in the terminal's time zone: the day the
// customer stood at the register, however late Alipay answered. Totals are
// added up as integers in minor units, as the PAY's amt gives them, and are
// written in the main unit of their currency (alipay.Amount.FormatMajor)
// only for reading; no amount ever passes through floating point.
//
// report reads the store and never changes a payment.
package report
