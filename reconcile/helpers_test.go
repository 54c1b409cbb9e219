package reconcile

import "strings"

// transactionColumns is the header of a transaction details report as the
// report pages list its columns; tests shuffle and trim it.
var transactionColumns = []string{
	"customerId", "PSP", "ARN", "referenceMerchantId", "referenceStoreId", "transactionId", "originalTransactionId",
	"transactionRequestId", "referenceTransactionId", "paymentMethodType", "transactionType", "transactionTime",
	"transactionAmountValue", "transactionCurrency", "originalTransactionRequestId",
}

// settlementColumns is the header of a settlement details report.
var settlementColumns = []string{
	"settlementBatchId", "customerId", "PSP", "transactionId", "originalTransactionId", "transactionRequestId",
	"transactionType", "paymentTime", "transactionAmountValue", "transactionCurrency",
	"settlementAmountValue", "settlementCurrency",
}

// tx is one transaction of a generated report, by column name; columns
// not given are left empty.
type tx map[string]string

// payment, cancel and refund are transactions as Antom reports them.
func payment(req, pid, amount, cur, at string) tx {
	return tx{"transactionRequestId": req, "transactionId": pid, "transactionType": "PAYMENT",
		"transactionAmountValue": amount, "transactionCurrency": cur, "transactionTime": at, "paymentTime": at,
		"customerId": "2188120000000000", "PSP": "Antom", "paymentMethodType": "ALIPAY_CN"}
}

func cancel(req, pid, original, amount, cur, at string) tx {
	t := payment(req, pid, amount, cur, at)
	t["transactionType"], t["originalTransactionId"] = "CANCEL", original
	return t
}

func refund(refundReq, refundID, original, amount, cur, at string) tx {
	t := payment(refundReq, refundID, amount, cur, at)
	t["transactionType"], t["originalTransactionId"] = "REFUND", original
	return t
}

// reportText is a report with the header cols and the transactions txs,
// ending with <END>, lines ended by LF.
func reportText(cols []string, txs ...tx) string {
	var b strings.Builder
	b.WriteString(strings.Join(cols, ",") + "\n")
	for _, t := range txs {
		var fields []string
		for _, c := range cols {
			v := t[c]
			if strings.ContainsAny(v, ",\"\n") {
				v = `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
			}
			fields = append(fields, v)
		}
		b.WriteString(strings.Join(fields, ",") + "\n")
	}
	b.WriteString(endMarker + "\n")
	return b.String()
}
