// Package reconcile compares the terminal's payments with Alipay's own
// account of them: the transaction details and settlement details reports
// Antom publishes as CSV files. It owns reading those reports (report.go),
// matching their rows with the stored payments and sorting every
// difference into a Kind (match.go), and writing the outcome for people
// and scripts (output.go). `posagent reconcile` in cmd/posagent wires it
// to the store.
//
// The reports are read by the names in their header line, never by
// position, and a report is taken whole or not at all: a file whose last
// line is not <END> may have been cut short, and is refused unless the
// caller says otherwise. Amounts in the reports are in the main unit of
// their currency and are converted to minor units exactly, on their
// decimal digits (alipay.ParseMajor).
//
// reconcile reads the store and never changes a payment; the summary it
// makes (Result.Summary) is kept by the caller.
package reconcile
