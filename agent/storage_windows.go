package agent

import (
	"errors"

	"golang.org/x/sys/windows"
)

// noSpace reports whether err says the disk is full.
func noSpace(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL)
}

// readOnlyFS reports whether err says the disk refuses writes.
func readOnlyFS(err error) bool { return errors.Is(err, windows.ERROR_WRITE_PROTECT) }
