//go:build !unix

package demo

// openDemoWire uses an in-memory line: Windows has no pseudo-terminals.
func openDemoWire() (*demoWire, error) { return openPipeWire() }
