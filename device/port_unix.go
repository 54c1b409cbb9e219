//go:build unix

package device

// closeRead prepares the end of a Read that may be waiting on the port. On
// Unix there is nothing to do: go.bug.st/serial's Read waits in select(2)
// on the port and on a pipe of its own, and its Close writes to that pipe,
// which ends the Read with a PortClosed error.
func (c *serialConn) closeRead() {}
