package demo

import (
	"net"

	"github.com/posagent/posagent/device"
)

// openPipeWire connects the register simulator and the agent with an
// in-memory line, for systems without pseudo-terminals.
func openPipeWire() (*demoWire, error) {
	a, b := net.Pipe()
	return &demoWire{
		desc:     "in-memory line",
		agent:    device.OpenOnce(pipeConn{a}),
		register: device.OpenOnce(pipeConn{b}),
		close:    func() { a.Close(); b.Close() },
	}, nil
}

// pipeConn is one end of the in-memory line as a link connection.
type pipeConn struct{ net.Conn }

// Drain returns at once: a write on a net.Pipe returns only once the other
// end has read it.
func (pipeConn) Drain() error { return nil }
