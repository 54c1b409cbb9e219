//go:build windows

package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// runCreatesStatusToken says whether `posagent run` writes a missing
// status.token_file itself. On Windows it does: an installer cannot write a
// random file without custom actions, and the service, running as
// LocalSystem, can write ProgramData\posagent.
const runCreatesStatusToken = true

// tokenFileSDDL is the security descriptor of a token file written by
// ensureStatusToken: a protected DACL (nothing inherited from
// ProgramData, whose entries let every user read) granting full control to
// SYSTEM, which the service runs as, and to Administrators alone.
const tokenFileSDDL = "D:P(A;;FA;;;SY)(A;;FA;;;BA)"

// ensureStatusToken writes a new random token (32 bytes from crypto/rand,
// as 64 hex digits) to path when no file is there, and reports whether it
// did. An existing file is never replaced, whatever it holds: ReadToken
// judges it. The file is created with its restricted DACL in the same
// call, so it is never readable by others, not even for a moment.
func ensureStatusToken(path string) (created bool, err error) {
	if _, err := os.Lstat(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return false, nil // there, or not knowable: ReadToken says which
	}
	sd, err := windows.SecurityDescriptorFromString(tokenFileSDDL)
	if err != nil {
		return false, fmt.Errorf("cannot build the security descriptor of %s: %w", path, err)
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return false, fmt.Errorf("%s is not a usable file name: %w", path, err)
	}
	h, err := windows.CreateFile(name, windows.GENERIC_WRITE, 0, sa, windows.CREATE_NEW, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if errors.Is(err, windows.ERROR_FILE_EXISTS) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s does not exist and cannot be created; create it with a random token as docs/install.md says: %w", path, err)
	}
	f := os.NewFile(uintptr(h), path)
	var raw [32]byte
	rand.Read(raw[:]) // never fails (crypto/rand)
	_, werr := f.WriteString(hex.EncodeToString(raw[:]) + "\r\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(path) // a partial token would be refused at every start
		return false, fmt.Errorf("cannot write a new token to %s: %w", path, err)
	}
	return true, nil
}
