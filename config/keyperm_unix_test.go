//go:build !windows

package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestModeExposure(t *testing.T) {
	const own, other = 1001, 2002 // the process's group, another group
	tests := []struct {
		name string
		perm fs.FileMode
		gid  int
		grp  string
		want string // part of the answer; "" for none
	}{
		{"owner only", 0o600, other, "staff", ""},
		{"owner read only", 0o400, other, "staff", ""},
		{"the service's group, as the packages set it", 0o640, other, "posagent", ""},
		{"the process's own group", 0o640, own, "pos", ""},
		{"the service's group may write too", 0o660, other, "posagent", ""},
		{"another group may read", 0o640, other, "staff", "gives the group staff access"},
		{"another group may write", 0o620, other, "staff", "gives the group staff access"},
		{"group unknown", 0o640, -1, "", "gives the group"},
		{"every user may read", 0o644, own, "pos", "its mode 0644 gives every user access"},
		{"every user may write", 0o602, own, "posagent", "its mode 0602 gives every user access"},
		{"every user may only enter", 0o601, own, "pos", "gives every user access"},
		{"wide open", 0o777, other, "posagent", "its mode 0777 gives every user access"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := modeExposure(tt.perm, tt.gid, tt.grp, own)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("modeExposure(%04o, group %s) = %q, want %q", tt.perm, tt.grp, got, tt.want)
			}
		})
	}
}

func TestKeyExposureReadsTheFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "merchant_private_key.pem")
	if err := os.WriteFile(path, []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		perm fs.FileMode
		want string
	}{
		{0o600, ""},
		{0o640, ""}, // the file's group is this process's own: a new file's
		{0o644, "its mode 0644 gives every user access"},
		{0o604, "its mode 0604 gives every user access"},
	} {
		if err := os.Chmod(path, tt.perm); err != nil {
			t.Fatal(err)
		}
		got, err := keyExposure(path)
		if err != nil || got != tt.want {
			t.Errorf("keyExposure of a %04o file = %q, %v; want %q", tt.perm, got, err, tt.want)
		}
	}
	if _, err := keyExposure(filepath.Join(t.TempDir(), "none.pem")); err == nil {
		t.Error("keyExposure of a missing file gave no error")
	}
}
