package device

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"go.bug.st/serial"
)

// portReadTimeout bounds one Read on a serial port. A Read that times out
// returns (0, nil) and the read loop reads again, so the CPU stays idle; the
// bound lets the loop notice a Close where the platform does not interrupt a
// pending read.
const portReadTimeout = 500 * time.Millisecond

// ErrPortInUse is returned when another process holds the register port.
var ErrPortInUse = errors.New("the register port is in use by another process: stop the other posagent or program using it")

// errClosedByUs is what a Read returns after the port's own Close: not an
// unplug.
var errClosedByUs = errors.New("the port was closed by this process")

// OpenPort finds the port cfg describes (resolving symlinks and USB identity
// anew on each call), locks it for this process and opens it with cfg's line
// settings. The Conn it returns reports an unplug as a Read error.
func OpenPort(ctx context.Context, cfg PortConfig) (Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name, err := cfg.find()
	if err != nil {
		return nil, err
	}
	release, err := lockPort(name)
	if err != nil {
		return nil, err
	}
	p, err := serial.Open(name, cfg.mode())
	if err != nil {
		release()
		var pe *serial.PortError
		if errors.As(err, &pe) && pe.Code() == serial.PortBusy {
			return nil, fmt.Errorf("opening %s: %w", name, ErrPortInUse)
		}
		return nil, fmt.Errorf("cannot open the register port %s: %w; check the cable and the port's permissions", name, err)
	}
	if err := p.SetReadTimeout(portReadTimeout); err != nil {
		p.Close()
		release()
		return nil, fmt.Errorf("setting the read timeout of %s: %w", name, err)
	}
	return &serialConn{port: p, name: name, release: release}, nil
}

// find returns the device name to open: the configured path with symlinks
// followed, or the one USB adapter that matches cfg.USB.
func (c PortConfig) find() (string, error) {
	if c.Path != "auto" {
		return resolvePath(c.Path)
	}
	id, err := parseUSB(c.USB)
	if err != nil {
		return "", err
	}
	ports, err := ListPorts()
	if err != nil {
		return "", err
	}
	return matchUSB(ports, id)
}

// matchUSB returns the name of the one port with USB identity id.
func matchUSB(ports []PortInfo, id usbID) (string, error) {
	var match []PortInfo
	for _, p := range ports {
		if p.USB && strings.EqualFold(p.VID, id.vid) && strings.EqualFold(p.PID, id.pid) &&
			(id.serial == "" || strings.EqualFold(p.Serial, id.serial)) {
			match = append(match, p)
		}
	}
	want := id.vid + ":" + id.pid
	if id.serial != "" {
		want += ":" + id.serial
	}
	switch len(match) {
	case 1:
		return match[0].Name, nil
	case 0:
		var seen []string
		for _, p := range ports {
			seen = append(seen, p.String())
		}
		if len(seen) == 0 {
			seen = []string{"none"}
		}
		return "", fmt.Errorf("no serial port has USB id %s (ports: %s): plug the register in or correct register.usb", want, strings.Join(seen, ", "))
	}
	var names []string
	for _, p := range match {
		names = append(names, p.String())
	}
	return "", fmt.Errorf("%d serial ports match USB id %s (%s): add the serial number, as VID:PID:SERIAL, to register.usb, or set register.port", len(match), want, strings.Join(names, ", "))
}

func (c PortConfig) mode() *serial.Mode {
	m := &serial.Mode{BaudRate: 115200, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}
	if c.Baud != 0 {
		m.BaudRate = c.Baud
	}
	switch strings.ToLower(c.Parity) {
	case "even":
		m.Parity = serial.EvenParity
	case "odd":
		m.Parity = serial.OddParity
	}
	if c.StopBits == 2 {
		m.StopBits = serial.TwoStopBits
	}
	return m
}

// serialConn is an open, locked serial port. It tells its own Close from an
// unplug by its closed flag: go.bug.st/serial reports both alike.
type serialConn struct {
	port    serial.Port
	name    string
	release func()
	closed  atomic.Bool
}

// Name returns the device name the port was opened by.
func (c *serialConn) Name() string { return c.name }

func (c *serialConn) Read(p []byte) (int, error) {
	n, err := c.port.Read(p)
	if err != nil {
		if c.closed.Load() {
			return n, errClosedByUs
		}
		return n, fmt.Errorf("port %s is gone: %w", c.name, err)
	}
	return n, nil
}

func (c *serialConn) Write(p []byte) (int, error) { return c.port.Write(p) }

// Drain waits until written bytes have left the port.
func (c *serialConn) Drain() error { return c.port.Drain() }

// Close closes the port, which ends a pending Read, and releases the lock.
func (c *serialConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := c.port.Close()
	c.release()
	return err
}
