//go:build !windows

package config

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// serviceGroup is the group the packaged service runs as (Group= in
// posagent.service), which the key files are given to: chgrp posagent,
// chmod 0640.
const serviceGroup = "posagent"

// keyExposure says who other than the file's owner may read or change the
// file at path through its mode bits, or "" when nobody may. Any access
// for other users (mode & 007) counts. Access for the file's group (mode &
// 070) counts unless that group is the one this process runs as or the
// service's group posagent, as docs/install.md sets the keys up (root:posagent
// 0640), so that neither the agent nor `sudo posagent doctor` flags it.
func keyExposure(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	gid, name := -1, ""
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		gid = int(st.Gid)
		name = strconv.Itoa(gid)
		if g, err := user.LookupGroupId(name); err == nil {
			name = g.Name
		}
	}
	return modeExposure(fi.Mode().Perm(), gid, name, os.Getegid()), nil
}

// modeExposure is keyExposure for a file of mode perm owned by group gid
// (named name; -1 when unknown), read by a process of effective group egid.
func modeExposure(perm fs.FileMode, gid int, name string, egid int) string {
	switch {
	case perm&0o007 != 0:
		return fmt.Sprintf("its mode %04o gives every user access", perm)
	case perm&0o070 == 0:
		return ""
	case gid >= 0 && (gid == egid || name == serviceGroup):
		return ""
	}
	return fmt.Sprintf("its mode %04o gives the group %s access", perm, name)
}

// keyRestrictHint is the command that leaves the key at path to root and
// the service.
func keyRestrictHint(path string) string {
	return fmt.Sprintf("chown root:%s %s; chmod 0640 %s", serviceGroup, path, path)
}
