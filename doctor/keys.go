package doctor

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/config"
)

// checkKeys loads the key files and proves the merchant key pair works: a
// test string signed with the private key must verify with its public half.
// It also catches the Alipay public key file holding the merchant's own
// public key, a common mix-up when both are downloaded from the portal.
// It fails too, while still calling the keys usable, when other users may
// read the merchant private key file (config.Config.PrivateKeyExposure).
// It returns the client configuration and whether the keys are usable.
func checkKeys(r *report, cfg *config.Config) (alipay.Config, bool) {
	ac, err := cfg.AlipayConfig()
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				r.fail("keys", p.String())
			}
		} else {
			r.fail("keys", err.Error())
		}
		return ac, false
	}
	priv, pub := ac.PrivateKey, ac.AlipayPublicKey
	if err := priv.Validate(); err != nil {
		r.fail("keys", fmt.Sprintf("the merchant private key in %s is damaged (%v); export it again from where it was generated", cfg.Alipay.PrivateKeyFile, err))
		return ac, false
	}
	const method, path, clientID, body = "POST", "/posagent/doctor", "doctor", `{"test":"posagent doctor"}`
	stamp := strconv.FormatInt(time.Now().UnixMilli(), 10)
	sig, err := alipay.SignContent(priv, method, path, clientID, stamp, []byte(body))
	if err == nil {
		err = alipay.VerifyContent(&priv.PublicKey, method, path, clientID, stamp, []byte(body), sig)
	}
	if err != nil {
		r.fail("keys", fmt.Sprintf("a test string signed with the merchant private key in %s does not verify with its public key (%v); export the key again", cfg.Alipay.PrivateKeyFile, err))
		return ac, false
	}
	if pub.Equal(&priv.PublicKey) {
		r.fail("keys", fmt.Sprintf("%s holds the merchant's own public key, not Alipay's; download the Alipay public key from the Antom portal into alipay.alipay_public_key_file", cfg.Alipay.AlipayPublicKeyFile))
		return ac, false
	}
	// A key others can read still works, so the checks that use it run.
	exposed, err := cfg.PrivateKeyExposure()
	switch {
	case err != nil:
		r.warn("keys", fmt.Sprintf("the key pair works, but who may read the merchant private key file cannot be told (%v); check its permissions by hand", err))
	case exposed != "":
		r.fail("keys", exposed)
	default:
		r.pass("keys", fmt.Sprintf("merchant private key (%d bits) signs and verifies a test string, and other users may not read it; Alipay public key %d bits; key version %d",
			priv.N.BitLen(), pub.N.BitLen(), ac.KeyVersion))
	}
	return ac, true
}
