package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/config"
)

// runInquire runs "posagent inquire": one signed inquiryPayment, whose
// verified answer is printed. The exit status is 0 only for a verified answer
// with resultStatus S, whatever the payment's status.
func runInquire(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("inquire", "[-config PATH] (-request-id ID | -payment-id ID) [-json]", stderr)
	cfgFlag := configFlag(fs)
	reqID := fs.String("request-id", "", "the merchant's paymentRequestId")
	payID := fs.String("payment-id", "", "Alipay's paymentId")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	if code, done := parse(fs, args); done {
		return code
	}
	if (*reqID == "") == (*payID == "") {
		return usageError(fs, "give exactly one of -request-id and -payment-id")
	}

	path := configPath(*cfgFlag)
	_, ac, err := config.Check(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	client, err := alipay.NewClient(ac)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return exitUsage
	}
	defer client.CloseIdleConnections()

	resp, err := client.Inquire(ctx, alipay.Ref{PaymentRequestID: *reqID, PaymentID: *payID})
	// Inquire returns a response beside an error only when the answer was
	// signed and verified (a verified F or U), so it is shown then too.
	if resp != nil {
		if werr := printInquiry(stdout, resp, *asJSON); werr != nil {
			fmt.Fprintf(stderr, "posagent inquire: cannot write the answer: %v\n", werr)
			return exitFailure
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, inquiryFailure(err))
		return exitFailure
	}
	return exitOK
}

// inquiryFailure words why an inquiry did not give a verified S answer as
// one sentence for stderr.
func inquiryFailure(err error) string {
	if e, ok := errors.AsType[*alipay.Error](err); ok {
		return fmt.Sprintf("posagent inquire: %v (%s).", e, e.Class)
	}
	return fmt.Sprintf("posagent inquire: %v.", err)
}

// printInquiry writes a verified answer as JSON, or as aligned lines a
// person can read. The lines leave out the payer's wallet ids, which are
// customer data.
func printInquiry(w io.Writer, r *alipay.InquiryResponse, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(name, value string) {
		if value != "" {
			fmt.Fprintf(tw, "%s\t%s\n", name, value)
		}
	}
	line("resultStatus", r.Result.Status)
	line("resultCode", r.Result.Code)
	line("resultMessage", r.Result.Message)
	line("paymentStatus", r.PaymentStatus)
	line("paymentResultCode", r.PaymentResultCode)
	line("paymentResultMessage", r.PaymentResultMessage)
	line("paymentRequestId", r.PaymentRequestID)
	line("paymentId", r.PaymentID)
	if r.PaymentAmount != (alipay.Amount{}) {
		line("paymentAmount", r.PaymentAmount.String())
	}
	line("paymentCreateTime", r.PaymentCreateTime)
	line("paymentTime", r.PaymentTime)
	line("authExpiryTime", r.AuthExpiryTime)
	if r.PSPCustomerInfo != nil {
		line("pspName", r.PSPCustomerInfo.PSPName)
	}
	for _, t := range r.Transactions {
		line("transaction", fmt.Sprintf("%s %s %s id %s at %s", t.Type, t.Status, t.Amount, t.ID, t.Time))
	}
	if a := r.GrossSettlementAmount; a != nil {
		line("grossSettlementAmount", a.String())
	}
	if q := r.SettlementQuote; q != nil {
		line("settlementQuote", fmt.Sprintf("%s %s (quote %s)", q.QuoteCurrencyPair, q.QuotePrice, q.QuoteID))
	}
	if !r.ResponseTime.IsZero() {
		line("responseTime", r.ResponseTime.UTC().Format(time.RFC3339Nano))
	}
	return tw.Flush()
}
