//go:build !windows

package queue

import (
	"os"
	"syscall"
)

// unlockFile drops the lock bbolt took on f. Closing f alone is not enough
// when bbolt failed part way: its memory map still refers to the file and
// keeps the lock held.
func unlockFile(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
