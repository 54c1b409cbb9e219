package agent

import "fmt"

// keyExposedMsg is the warning (run) and the failure (doctor) for a merchant
// private key file at path that other users can read, how saying by what
// (keyExposure).
func keyExposedMsg(path, how string) string {
	return fmt.Sprintf("the merchant private key file %s can be read by other users (%s); whoever reads it can sign payments as the merchant, so restrict it: %s", path, how, keyRestrictHint(path))
}
