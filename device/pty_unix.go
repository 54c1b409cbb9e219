//go:build unix

package device

import (
	"context"
	"fmt"
	"os"
	"syscall"

	"github.com/creack/pty"
)

// PTY is a pseudo-terminal pair used as a simulated serial line: the agent
// opens the terminal side by its name, Path, as it would a serial port, and
// the register simulator holds Master, the other end of the cable.
type PTY struct {
	Master *os.File // non-blocking, so that Close ends a Read in progress
	Path   string   // the terminal side's device name
	tty    *os.File // kept open so that the line stays up until the agent opens it
}

// OpenPTY makes a new pseudo-terminal pair.
func OpenPTY() (*PTY, error) {
	master, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("no pseudo-terminal can be made here: %w", err)
	}
	// A blocking master's Read would outlive Close; a duplicate made
	// non-blocking goes through the runtime's poller, which Close wakes.
	fd, err := syscall.Dup(int(master.Fd()))
	master.Close()
	if err == nil {
		err = syscall.SetNonblock(fd, true)
	}
	if err != nil {
		tty.Close()
		return nil, fmt.Errorf("prepare the pseudo-terminal %s: %w", tty.Name(), err)
	}
	return &PTY{Master: os.NewFile(uintptr(fd), "ptmx"), Path: tty.Name(), tty: tty}, nil
}

// Conn returns the master as the register's end of the line.
func (p *PTY) Conn() Conn { return FileConn{p.Master} }

// Opener opens the register's end of the line anew for each session: a
// duplicate of Master, so that a session that ends (its peer did not
// answer, and the line gave up) closes its duplicate only, and the pair
// lives on until Close, as a cable stays plugged in while the agent at its
// other end is off. A Line given it (WithOpener) comes back up on its own
// when its peer answers again.
func (p *PTY) Opener() Opener {
	return func(context.Context) (Conn, error) {
		raw, err := p.Master.SyscallConn()
		if err != nil {
			return nil, err
		}
		fd := -1
		// Control, not Fd: Fd would make Master blocking.
		if cerr := raw.Control(func(m uintptr) { fd, err = syscall.Dup(int(m)) }); cerr != nil {
			return nil, cerr
		}
		if err == nil {
			err = syscall.SetNonblock(fd, true)
		}
		if err != nil {
			if fd >= 0 {
				syscall.Close(fd)
			}
			return nil, fmt.Errorf("open the pseudo-terminal's master again: %w", err)
		}
		return FileConn{os.NewFile(uintptr(fd), "ptmx")}, nil
	}
}

// Close closes both sides.
func (p *PTY) Close() error {
	err := p.Master.Close()
	p.tty.Close()
	return err
}
