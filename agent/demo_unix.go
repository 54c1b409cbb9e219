//go:build unix

package agent

import (
	"context"
	"fmt"
	"os"
	"syscall"

	"github.com/creack/pty"

	"github.com/posagent/posagent/device"
)

// openDemoWire makes a pseudo-terminal pair: the agent opens the slave by
// its path as a serial port, the register simulator holds the master.
func openDemoWire() (*demoWire, error) {
	master, slave, err := pty.Open()
	if err != nil {
		return openPipeWire()
	}
	// A non-blocking master lets Close end the simulator's pending Read.
	fd, err := syscall.Dup(int(master.Fd()))
	master.Close()
	if err == nil {
		err = syscall.SetNonblock(fd, true)
	}
	if err != nil {
		slave.Close()
		return nil, fmt.Errorf("prepare the demo's pseudo-terminal: %w", err)
	}
	m := os.NewFile(uintptr(fd), "ptmx")
	return &demoWire{
		desc: slave.Name(),
		agent: func(ctx context.Context) (device.Conn, error) {
			return device.OpenPort(ctx, device.PortConfig{Path: slave.Name()})
		},
		register: onceOpener(fileConn{m}),
		close:    func() { m.Close(); slave.Close() },
	}, nil
}

// fileConn is the pty master as a link connection.
type fileConn struct{ *os.File }

// Drain returns at once: a pty master hands written bytes to the slave
// immediately.
func (fileConn) Drain() error { return nil }
