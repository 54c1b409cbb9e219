package queue

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

func diskSpace(dir string) (Space, error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return Space{}, err
	}
	var free, total, totalFree uint64
	if err := windows.GetDiskFreeSpaceEx(p, &free, &total, &totalFree); err != nil {
		return Space{}, err
	}
	return Space{Free: free}, nil
}

// preallocate gives errors.ErrUnsupported: bbolt sizes the file to its
// memory map on Windows, and NTFS allocates all of it.
func preallocate(*os.File, int64) error { return errors.ErrUnsupported }
