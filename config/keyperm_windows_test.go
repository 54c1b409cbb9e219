//go:build windows

package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/windows"
)

// setDACL replaces the DACL of the file at path with the protected one of
// the SDDL string dacl, as icacls /inheritance:r /grant:r would.
func setDACL(t *testing.T, path, dacl string) {
	t.Helper()
	sd, err := windows.SecurityDescriptorFromString(dacl)
	if err != nil {
		t.Fatal(err)
	}
	acl, _, err := sd.DACL()
	if err != nil {
		t.Fatal(err)
	}
	err = windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, acl, nil)
	if err != nil {
		t.Fatal(err)
	}
}

func TestKeyExposureReadsTheACL(t *testing.T) {
	// OW is the file's owner, the user running the test, so that it can
	// still change the file's DACL; SY and BA are SYSTEM and Administrators.
	const own = "(A;;FA;;;OW)(A;;FA;;;SY)(A;;FA;;;BA)"
	tests := []struct {
		name, dacl, want string
	}{
		{"owner, SYSTEM and Administrators only", "D:P" + own, ""},
		{"Users may read", "D:P" + own + "(A;;FR;;;BU)", "lets Users read it"},
		{"Everyone may read", "D:P" + own + "(A;;GR;;;WD)", "lets Everyone read it"},
		{"Authenticated Users may do anything", "D:P" + own + "(A;;FA;;;AU)", "lets Authenticated Users read it"},
		{"Users and Everyone", "D:P" + own + "(A;;FR;;;BU)(A;;FR;;;WD)", "lets Users, Everyone read it"},
		{"Users may only list attributes", "D:P" + own + "(A;;0x80;;;BU)", ""},
		{"a denial is no grant", "D:P(D;;FR;;;BU)" + own, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "merchant_private_key.pem")
			if err := os.WriteFile(path, []byte("key"), 0o600); err != nil {
				t.Fatal(err)
			}
			setDACL(t, path, tt.dacl)
			got, err := keyExposure(path)
			if err != nil {
				t.Fatal(err)
			}
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("keyExposure with DACL %s = %q, want %q", tt.dacl, got, tt.want)
			}
		})
	}
}

func TestEnsureStatusTokenWritesARestrictedTokenOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status.token")
	created, err := ensureStatusToken(path)
	if err != nil || !created {
		t.Fatalf("ensureStatusToken of a missing file = %v, %v; want it created", created, err)
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrPermission) {
		t.Skip("the token file is for SYSTEM and Administrators; run the test as an administrator")
	}
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(data))
	if len(token) != 64 || strings.Trim(token, "0123456789abcdef") != "" {
		t.Errorf("token %q, want 64 hex digits", token)
	}
	// The same check as for the private key: no wide read access.
	if exposed, err := keyExposure(path); err != nil || exposed != "" {
		t.Errorf("the new token file can be read by others: %q, %v", exposed, err)
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	if ctl, _, err := sd.Control(); err != nil || ctl&windows.SE_DACL_PROTECTED == 0 {
		t.Errorf("the token file's DACL inherits from the folder (control %#x, %v)", ctl, err)
	}

	// Never replaced, whatever it holds.
	if err := os.WriteFile(path, []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	created, err = ensureStatusToken(path)
	if err != nil || created {
		t.Fatalf("ensureStatusToken of an existing file = %v, %v; want it left alone", created, err)
	}
	if data, _ := os.ReadFile(path); string(data) != "kept" {
		t.Errorf("the existing file now holds %q", data)
	}
}

func TestEnsureStatusTokenSaysWhyItCannotWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no such folder", "status.token")
	if _, err := ensureStatusToken(path); err == nil || !strings.Contains(err.Error(), "cannot be created") {
		t.Fatalf("ensureStatusToken in a missing folder = %v, want it cannot be created", err)
	}
}
