//go:build windows

package agent

import (
	"os"
	"path/filepath"
)

// platformDefaults returns %ProgramData%\posagent for both configuration and
// state, as a Windows service has no user profile to use. ProgramData falls
// back to its standard location when the variable is unset, as it can be in a
// stripped-down service environment.
func platformDefaults() platformDirs {
	base := os.Getenv("ProgramData")
	if base == "" {
		base = `C:\ProgramData`
	}
	dir := filepath.Join(base, "posagent")
	return platformDirs{config: dir, data: dir}
}
