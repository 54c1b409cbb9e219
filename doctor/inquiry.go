package doctor

import (
	"context"
	"errors"
	"fmt"

	"github.com/posagent/posagent/alipay"
)

// checkInquiry asks inquiryPayment about a made-up payment. The only good
// answer is a signed F ORDER_NOT_EXIST: Alipay accepted the client id, the
// signature (so the private key, the key version and the clock) and the
// answer's signature verified with the configured Alipay public key.
func checkInquiry(ctx context.Context, r *report, ac alipay.Config, opts Options) {
	ac.Now = opts.Now
	client, err := alipay.NewClient(ac, opts.alipayOptions()...)
	if err != nil {
		r.fail("inquiry", fmt.Sprintf("the [alipay] settings are refused: %v", err))
		return
	}
	defer client.CloseIdleConnections()
	req := madeUpRequestID(opts.Now())
	_, err = client.Inquire(ctx, alipay.Ref{PaymentRequestID: req})
	var e *alipay.Error
	switch {
	case err == nil:
		r.warn("inquiry", fmt.Sprintf("Alipay answered S for the made-up payment %s, which it should not know; check that alipay.endpoint is Alipay's", req))
	case !errors.As(err, &e):
		r.fail("inquiry", fmt.Sprintf("inquiryPayment failed: %v", err))
	case e.Verified && e.ResultStatus == "F" && e.Code == "ORDER_NOT_EXIST":
		r.pass("inquiry", fmt.Sprintf("signed inquiryPayment of a made-up payment answered with a verified F ORDER_NOT_EXIST: keys, client id %s and clock are accepted", ac.ClientID))
	case e.Verified && e.ResultStatus != "":
		r.fail("inquiry", fmt.Sprintf("Alipay answered %s %s; %s", e.ResultStatus, e.Code, codeAdvice(e.Code)))
	case e.HTTPStatus == 200:
		// An answer came but its signature did not verify.
		r.fail("inquiry", fmt.Sprintf("Alipay's answer does not verify with the key in alipay.alipay_public_key_file (%v); download the Alipay public key for this client id from the Antom portal", err))
	default:
		r.fail("inquiry", fmt.Sprintf("no usable answer from Alipay: %v", err))
	}
}

// codeAdvice says what to do about an F resultCode to doctor's inquiry.
func codeAdvice(code string) string {
	switch code {
	case "CLIENT_INVALID", "INVALID_CLIENT", "INVALID_CLIENT_STATUS":
		return "Alipay does not know alipay.client_id; copy the client id from the Antom portal, and use the sandbox endpoint for a SANDBOX_ id"
	case "INVALID_SIGNATURE":
		return "Alipay cannot verify the request signature: the merchant private key does not match the public key uploaded to the Antom portal, or the terminal clock is off (see the clock line)"
	case "KEY_NOT_FOUND":
		return "Alipay has no key of alipay.key_version for this client id; set key_version to the version the Antom portal shows"
	case "ACCESS_DENIED", "INVALID_CONTRACT", "MERCHANT_NOT_REGISTERED", "INVALID_MERCHANT_STATUS", "MERCHANT_KYB_NOT_QUALIFIED":
		return "the merchant account may not use inquiryPayment yet; ask Antom support to check the contract"
	case "REQUEST_TRAFFIC_EXCEED_LIMIT":
		return "Alipay is limiting calls; run posagent doctor again in a minute"
	}
	return "an answer other than ORDER_NOT_EXIST means something is wrong with the account or the endpoint; check alipay.endpoint and alipay.client_id"
}
