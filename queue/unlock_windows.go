//go:build windows

package queue

import (
	"os"

	"golang.org/x/sys/windows"
)

// unlockFile drops the lock bbolt took on f, the one byte at offset 2^64-1
// that bbolt locks on Windows, before f is closed.
func unlockFile(f *os.File) {
	const m1 = 1<<32 - 1
	_ = windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &windows.Overlapped{Offset: m1, OffsetHigh: m1})
}
