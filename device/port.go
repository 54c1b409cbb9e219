package device

import (
	"context"
	"errors"
)

// OpenPort opens the serial port cfg describes, locked for this process.
func OpenPort(ctx context.Context, cfg PortConfig) (Conn, error) {
	return nil, errors.New("serial ports are not supported yet")
}
