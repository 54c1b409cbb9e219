//go:build unix

package agent

import (
	"errors"
	"strings"
	"syscall"
)

// noSpace reports whether err says the file system is full.
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		saysErrno(err, syscall.ENOSPC) || saysErrno(err, syscall.EDQUOT)
}

// readOnlyFS reports whether err says the file system refuses writes.
func readOnlyFS(err error) bool {
	return errors.Is(err, syscall.EROFS) || saysErrno(err, syscall.EROFS)
}

// saysErrno reports whether err ends with the text of errno e: bbolt
// reports a failure to grow its file with the text of the system's error
// only ("file resize error: truncate ...: read-only file system").
func saysErrno(err error, e syscall.Errno) bool {
	return strings.HasSuffix(err.Error(), ": "+e.Error())
}
