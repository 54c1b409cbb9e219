//go:build !unix

package agent

// openDemoWire uses an in-memory line: Windows has no pseudo-terminals.
func openDemoWire() (*demoWire, error) { return openPipeWire() }
