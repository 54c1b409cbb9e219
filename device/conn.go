package device

import (
	"context"
	"os"
	"sync"
)

// FileConn is a Conn over an open file whose writes reach the other end as
// soon as they return, such as the master side of a pseudo-terminal: the
// register's end of a simulated line.
type FileConn struct{ *os.File }

// Drain returns at once: there is no transmit buffer to wait for.
func (FileConn) Drain() error { return nil }

// OpenOnce returns an Opener that gives conn the first time and, as a line
// reopens after its link went down, waits for ctx after that: the end of a
// simulated line cannot be plugged in again.
func OpenOnce(conn Conn) Opener {
	var mu sync.Mutex
	used := false
	return func(ctx context.Context) (Conn, error) {
		mu.Lock()
		first := !used
		used = true
		mu.Unlock()
		if first {
			return conn, nil
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}
}
