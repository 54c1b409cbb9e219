package queue

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// mapFile maps the whole of f read-only and returns its bytes and the
// function that unmaps them. The pages are the file's own, shared with the
// file cache, so checking a large file costs no memory of the process's
// own. A fault reading them (an I/O error) is caught by guard.
func mapFile(f *os.File) ([]byte, func(), error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if fi.Size() == 0 {
		return nil, func() {}, nil // an empty file cannot be mapped
	}
	if int64(int(fi.Size())) != fi.Size() {
		return nil, nil, fmt.Errorf("%s holds %d bytes, more than this program can map", f.Name(), fi.Size())
	}
	h, err := windows.CreateFileMapping(windows.Handle(f.Fd()), nil, windows.PAGE_READONLY, 0, 0, nil)
	if err != nil {
		return nil, nil, os.NewSyscallError("CreateFileMapping", err)
	}
	addr, err := windows.MapViewOfFile(h, windows.FILE_MAP_READ, 0, 0, uintptr(fi.Size()))
	windows.CloseHandle(h) // the view keeps the mapping open
	if err != nil {
		return nil, nil, os.NewSyscallError("MapViewOfFile", err)
	}
	// The view is memory the Go runtime neither allocates nor moves; its
	// address is read through a pointer so that the conversion is not
	// one from a uintptr held in a variable.
	data := unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&addr))), int(fi.Size()))
	return data, func() { windows.UnmapViewOfFile(addr) }, nil
}
