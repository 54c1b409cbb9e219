package agent

import "github.com/posagent/posagent/device/devicetest"

// openPipeWire connects the register simulator and the agent with an
// in-memory line, for systems without pseudo-terminals.
func openPipeWire() (*demoWire, error) {
	a, b := devicetest.Pipe()
	return &demoWire{
		desc:     "in-memory line",
		agent:    onceOpener(a),
		register: onceOpener(b),
		close:    func() { a.Close(); b.Close() },
	}, nil
}
