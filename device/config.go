package device

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// PortAuto is the PortConfig.Path (register.port) that asks for the port to
// be found by its USB identity, PortConfig.USB, instead of by name.
const PortAuto = "auto"

// PortConfig says which serial port the register is on and how the line is
// set. It mirrors the [register] section of the configuration file.
type PortConfig struct {
	Path     string // device path (/dev/ttyUSB0, /dev/serial/by-id/...), COMx, or PortAuto
	USB      string // with Path PortAuto: "VID:PID" or "VID:PID:SERIAL", hex, any case
	Baud     int    // 1200-115200; 0 means 115200
	Parity   string // "none", "even" or "odd"; "" means none
	StopBits int    // 1 or 2; 0 means 1
}

// usbID is a parsed PortConfig.USB.
type usbID struct{ vid, pid, serial string }

func parseUSB(s string) (usbID, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return usbID{}, fmt.Errorf("register usb %q is not VID:PID or VID:PID:SERIAL: write it like 0403:6001", s)
	}
	for _, h := range parts[:2] {
		if _, err := strconv.ParseUint(h, 16, 16); err != nil || len(h) != 4 {
			return usbID{}, fmt.Errorf("register usb %q: %q is not 4 hex digits: write it like 0403:6001", s, h)
		}
	}
	id := usbID{vid: strings.ToLower(parts[0]), pid: strings.ToLower(parts[1])}
	if len(parts) == 3 {
		if parts[2] == "" {
			return usbID{}, fmt.Errorf("register usb %q has an empty serial number: leave out the last colon", s)
		}
		id.serial = parts[2]
	}
	return id, nil
}

// Validate reports every problem of c in one error, one line each, naming
// the configuration key and what it allows.
func (c PortConfig) Validate() error {
	var errs []error
	switch {
	case c.Path == "":
		errs = append(errs, errors.New(`register.port is empty: give a device path such as /dev/ttyUSB0 or COM3, or "auto" with register.usb`))
	case c.Path == PortAuto && c.USB == "":
		errs = append(errs, errors.New(`register.port is "auto" but register.usb is empty: give the adapter's VID:PID (see "posagent ports")`))
	}
	if c.USB != "" {
		if _, err := parseUSB(c.USB); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Baud != 0 && (c.Baud < 1200 || c.Baud > 115200) {
		errs = append(errs, fmt.Errorf("register.baud %d is out of range: use 1200 to 115200", c.Baud))
	}
	switch strings.ToLower(c.Parity) {
	case "", "none", "even", "odd":
	default:
		errs = append(errs, fmt.Errorf("register.parity %q is not allowed: use none, even or odd", c.Parity))
	}
	if c.StopBits != 0 && c.StopBits != 1 && c.StopBits != 2 {
		errs = append(errs, fmt.Errorf("register.stop_bits %d is not allowed: use 1 or 2", c.StopBits))
	}
	return errors.Join(errs...)
}
