//go:build windows

package config

import (
	"path/filepath"

	"golang.org/x/sys/windows"
)

// platformDefaults returns the ProgramData folder's posagent folder for both
// configuration and state, as a Windows service has no user profile to use.
// The folder is asked of the system, as the installer does, rather than read
// from %ProgramData%, which a service's environment need not have or may
// have elsewhere.
func platformDefaults() platformDirs {
	base, err := windows.KnownFolderPath(windows.FOLDERID_ProgramData, 0)
	if err != nil || base == "" {
		base = `C:\ProgramData`
	}
	dir := filepath.Join(base, "posagent")
	return platformDirs{config: dir, data: dir}
}
