//go:build !windows

package config

// runCreatesStatusToken says whether `posagent run` writes a missing
// status.token_file itself. On Linux the packages write it at install, as
// root:posagent 0640: the service runs as the posagent user with /etc
// read-only (ProtectSystem=strict), so it could not.
const runCreatesStatusToken = false

// ensureStatusToken leaves path as it is: see runCreatesStatusToken.
func ensureStatusToken(path string) (created bool, err error) { return false, nil }
