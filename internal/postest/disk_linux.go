package postest

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// Tmpfs mounts a tmpfs of the given size ("1m") on a fresh folder for tb
// and returns the folder; it skips the test where mounting is not allowed.
func Tmpfs(tb testing.TB, size string) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		tb.Skipf("cannot mount a tmpfs here (%v); run as root to test a full disk", err)
	}
	tb.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// FillDisk writes a file at path until its file system is full.
func FillDisk(tb testing.TB, path string) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				tb.Fatal(err)
			}
			return
		}
	}
}
