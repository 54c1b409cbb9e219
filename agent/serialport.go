package agent

import (
	"context"
	"fmt"

	"go.bug.st/serial"

	"github.com/posagent/posagent/device"
)

// portOpener opens the register's serial port by its device name with the
// line settings of the [register] section. It stands in until
// device.OpenPort opens ports itself (and finds "auto" ones by USB id).
func portOpener(cfg RegisterSection) device.Opener {
	return func(ctx context.Context) (device.Conn, error) {
		if cfg.Port == PortAuto {
			return nil, fmt.Errorf("register.port = %q needs finding ports by USB id, which this build cannot do yet; give the device name instead", PortAuto)
		}
		mode := &serial.Mode{BaudRate: cfg.Baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}
		if mode.BaudRate == 0 {
			mode.BaudRate = 115200
		}
		switch cfg.Parity {
		case "even":
			mode.Parity = serial.EvenParity
		case "odd":
			mode.Parity = serial.OddParity
		}
		if cfg.StopBits == 2 {
			mode.StopBits = serial.TwoStopBits
		}
		port, err := serial.Open(cfg.Port, mode)
		if err != nil {
			return nil, fmt.Errorf("open the register port %s: %w", cfg.Port, err)
		}
		return port, nil
	}
}
