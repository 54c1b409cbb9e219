//go:build unix

package device

import (
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// resolvePath follows every symlink of path anew, so a /dev/serial/by-id name
// finds the adapter under whatever ttyUSBn it got after a replug.
func resolvePath(path string) (string, error) {
	name, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("register port %s not found: %w; check that the register is plugged in", path, err)
	}
	return name, nil
}

// lockPort takes an exclusive flock on the device node, held until release.
// go.bug.st/serial sets TIOCEXCL, but root ignores it; the flock keeps two
// posagent processes off one port whoever runs them. The lock belongs to the
// device node itself (all names of it), and the kernel drops it when the
// process dies.
func lockPort(name string) (release func(), err error) {
	fd, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EBUSY) {
			return nil, fmt.Errorf("opening %s: %w", name, ErrPortInUse)
		}
		return nil, openError(name, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("locking %s: %w", name, ErrPortInUse)
		}
		return nil, fmt.Errorf("locking the register port %s: %w", name, err)
	}
	return func() { unix.Close(fd) }, nil
}
