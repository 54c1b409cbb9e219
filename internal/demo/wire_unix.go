//go:build unix

package demo

import (
	"context"

	"github.com/posagent/posagent/device"
)

// openDemoWire makes a pseudo-terminal pair: the agent opens the terminal
// side by its path as a serial port, the register simulator holds the
// master. Where none can be made it falls back to an in-memory line.
func openDemoWire() (*demoWire, error) {
	p, err := device.OpenPTY()
	if err != nil {
		return openPipeWire()
	}
	return &demoWire{
		desc: p.Path,
		agent: func(ctx context.Context) (device.Conn, error) {
			return device.OpenPort(ctx, device.PortConfig{Path: p.Path})
		},
		register: device.OpenOnce(p.Conn()),
		close:    func() { p.Close() },
	}, nil
}
