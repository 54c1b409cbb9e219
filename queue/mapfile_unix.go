//go:build unix

package queue

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// mapFile maps the whole of f read-only and returns its bytes and the
// function that unmaps them. The pages are the file's own, shared with the
// page cache, so checking a large file costs no memory of the process's
// own. A fault reading them (the file cut short meanwhile) is caught by
// guard. The whole file is about to be read, though not in the order of
// its pages (a walk follows the keys): the kernel is asked to read it
// ahead, so that a check with a cold page cache waits on the disk's
// throughput rather than on a read per page.
func mapFile(f *os.File) ([]byte, func(), error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if fi.Size() == 0 {
		return nil, func() {}, nil
	}
	if int64(int(fi.Size())) != fi.Size() {
		return nil, nil, fmt.Errorf("%s holds %d bytes, more than this program can map", f.Name(), fi.Size())
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	unix.Madvise(data, unix.MADV_WILLNEED) // advice only: a failure costs time
	return data, func() { syscall.Munmap(data) }, nil
}
