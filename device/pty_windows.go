package device

import (
	"context"
	"errors"
	"os"
)

// PTY is a pseudo-terminal pair used as a simulated serial line; Windows
// has none, so OpenPTY always fails there (see pty_unix.go).
type PTY struct {
	Master *os.File
	Path   string
}

// OpenPTY fails: Windows has no pseudo-terminals.
func OpenPTY() (*PTY, error) {
	return nil, errors.New("no pseudo-terminal can be made here: Windows has none")
}

// Conn returns the master as the register's end of the line.
func (p *PTY) Conn() Conn { return FileConn{p.Master} }

// Opener fails: Windows has no pseudo-terminals.
func (p *PTY) Opener() Opener {
	return func(context.Context) (Conn, error) {
		return nil, errors.New("no pseudo-terminal can be made here: Windows has none")
	}
}

// Close closes the master.
func (p *PTY) Close() error { return p.Master.Close() }
