//go:build windows

package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

// keyExposure says which of Everyone, Users and Authenticated Users an
// entry of the file's DACL lets read the file at path, or "" when none
// does. A file without a DACL, or with a NULL one, lets everyone in.
// Entries that only pass on to children (INHERIT_ONLY_ACE) do not count.
func keyExposure(path string) (string, error) {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return "", fmt.Errorf("cannot read the permissions of %s: %w", path, err)
	}
	dacl, _, err := sd.DACL()
	if errors.Is(err, windows.ERROR_OBJECT_NOT_FOUND) || (err == nil && dacl == nil) {
		return "it has no access list, so everyone may read it", nil
	}
	if err != nil {
		return "", fmt.Errorf("cannot read the access list of %s: %w", path, err)
	}
	const read = windows.FILE_READ_DATA | windows.GENERIC_READ | windows.GENERIC_ALL
	wide := []struct {
		sid  windows.WELL_KNOWN_SID_TYPE
		name string
	}{
		{windows.WinWorldSid, "Everyone"},
		{windows.WinBuiltinUsersSid, "Users"},
		{windows.WinAuthenticatedUserSid, "Authenticated Users"},
	}
	var who []string
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return "", fmt.Errorf("cannot read the access list of %s: %w", path, err)
		}
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE || ace.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0 || ace.Mask&read == 0 {
			continue
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		for _, w := range wide {
			if sid.IsWellKnown(w.sid) && !slices.Contains(who, w.name) {
				who = append(who, w.name)
			}
		}
	}
	if len(who) == 0 {
		return "", nil
	}
	return "its access list lets " + strings.Join(who, ", ") + " read it", nil
}

// keyRestrictHint is the command that leaves the key at path to SYSTEM,
// which the service runs as, and Administrators.
func keyRestrictHint(path string) string {
	return fmt.Sprintf(`icacls "%s" /inheritance:r /grant:r SYSTEM:F Administrators:F`, path)
}
