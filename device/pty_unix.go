//go:build unix

package device

import (
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

// Close closes both sides.
func (p *PTY) Close() error {
	err := p.Master.Close()
	p.tty.Close()
	return err
}
