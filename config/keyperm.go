package config

import "fmt"

// PrivateKeyExposure says whether other users can read the merchant private
// key file, alipay.private_key_file. It returns "" when only its owner (and,
// on Unix, the service's group) can, else the warning that `posagent run`
// logs and the failure `posagent doctor` shows; an error means the file's
// permissions could not be read.
func (c *Config) PrivateKeyExposure() (string, error) {
	path := c.Alipay.PrivateKeyFile
	how, err := keyExposure(path)
	if err != nil || how == "" {
		return "", err
	}
	return fmt.Sprintf("the merchant private key file %s can be read by other users (%s); whoever reads it can sign payments as the merchant, so restrict it: %s", path, how, keyRestrictHint(path)), nil
}
