package postest

import (
	"testing"

	"github.com/posagent/posagent/device"
)

// PTY returns a new pseudo-terminal pair that lives as long as tb: the
// register's end is its Master (Conn), the agent opens Path. It skips the
// test where no pseudo-terminal can be made (Windows, some containers).
func PTY(tb testing.TB) *device.PTY {
	tb.Helper()
	p, err := device.OpenPTY()
	if err != nil {
		tb.Skip(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}
