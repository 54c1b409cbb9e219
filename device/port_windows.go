package device

import "time"

// How long closeRead keeps aborting a Read that has not ended yet: a Read
// called just after an abort waits again, so the abort is repeated until
// the Read is seen to end.
const (
	closeReadPause = 10 * time.Millisecond
	closeReadTries = 100
)

// closeRead ends a Read that may be waiting on the port, before Close. With
// no read timeout, go.bug.st/serial's Read waits for an overlapped ReadFile
// for as long as no byte comes, and whether CloseHandle completes that read
// is up to the adapter's driver. PurgeComm with PURGE_RXABORT
// (ResetInputBuffer) completes it on every driver, and the Read returns a
// PortClosed error, which Read reports as this process's own close. The
// purge drops bytes not yet read, which no one would read after Close
// anyway. It gives up after closeReadTries, leaving the rest to
// CloseHandle.
func (c *serialConn) closeRead() {
	for range closeReadTries {
		c.port.ResetInputBuffer()
		if c.reading.Load() == 0 {
			return
		}
		time.Sleep(closeReadPause)
	}
}
