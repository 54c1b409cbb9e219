package device

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"

	"go.bug.st/serial"
)

// ErrPortInUse is returned when another process holds the register port.
var ErrPortInUse = errors.New("the register port is in use by another process: stop the other posagent or program using it")

// errNoProgress is what Write returns when the port takes no byte and reports
// no error: a stuck adapter, handled like an unplug.
var errNoProgress = errors.New("the port took no bytes and reported no error")

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
	name, err := cfg.Resolve()
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
		return nil, openError(name, err)
	}
	// A Read waits for bytes without a timeout, asleep in the kernel, so an
	// idle line costs no wake-ups: an unplug ends it with an error and
	// Close ends it too (closeRead).
	if err := p.SetReadTimeout(serial.NoTimeout); err != nil {
		p.Close()
		release()
		return nil, fmt.Errorf("setting the read timeout of %s: %w", name, err)
	}
	return &serialConn{port: p, name: name, usb: usbIDOf(name), release: release}, nil
}

// Resolve returns the device OpenPort opens for c: the configured path with
// symlinks followed, or the one USB adapter that matches c.USB.
func (c PortConfig) Resolve() (string, error) {
	if c.Path != PortAuto {
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

// openError says why the port name did not open and what to do about it.
func openError(name string, err error) error {
	var pe *serial.PortError
	code := serial.PortErrorCode(-1)
	if errors.As(err, &pe) {
		code = pe.Code()
	}
	advice := "check the cable and the adapter"
	switch {
	case errors.Is(err, os.ErrPermission) || code == serial.PermissionDenied:
		advice = "run posagent as a user allowed to use serial ports (on Linux, one in the dialout group, as the service's user is)"
	case errors.Is(err, os.ErrNotExist) || code == serial.PortNotFound:
		advice = "plug in the register's cable or correct register.port"
	case code == serial.InvalidSpeed || code == serial.InvalidParity || code == serial.InvalidStopBits || code == serial.InvalidDataBits:
		advice = "the adapter does not take these settings: check baud, parity and stop_bits in [register]"
	}
	return fmt.Errorf("cannot open the register port %s: %w; %s", name, err, advice)
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
	usb     string // USB identity, "" when not a USB adapter or not known
	release func()
	closed  atomic.Bool
	reading atomic.Int32 // Reads in progress, for closeRead
}

// Name returns the device name the port was opened by.
func (c *serialConn) Name() string { return c.name }

// USBID returns the port's USB identity as register.usb takes it, or "".
func (c *serialConn) USBID() string { return c.usb }

// usbIDOf returns the USB identity of the port name, or "" when it is not a
// USB adapter or the system cannot list its ports.
func usbIDOf(name string) string {
	ports, err := ListPorts()
	if err != nil {
		return ""
	}
	for _, p := range ports {
		if p.Name == name {
			return p.USBID()
		}
	}
	return ""
}

// Read waits for bytes, without a timeout, until some come, the port is
// unplugged or Close is called.
func (c *serialConn) Read(p []byte) (int, error) {
	// Counted before the closed flag is read, so that Close, which sets the
	// flag before it reads the count, either sees this Read or makes it
	// return here.
	c.reading.Add(1)
	defer c.reading.Add(-1)
	if c.closed.Load() {
		return 0, errClosedByUs
	}
	n, err := c.port.Read(p)
	if err != nil {
		if c.closed.Load() {
			return n, errClosedByUs
		}
		return n, fmt.Errorf("port %s is gone: %w", c.name, err)
	}
	return n, nil
}

// Write writes p whole. A write a signal interrupted goes on with the bytes
// not yet written: go.bug.st/serial makes one write(2) and does not retry it
// on EINTR, and the Go runtime signals its own threads (SIGURG, to preempt
// goroutines), so an interrupted call is no sign of an unplug. Bytes already
// written are never sent again. It returns fewer than len(p) bytes only with
// an error.
func (c *serialConn) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		n, err := c.port.Write(p[written:])
		written += max(n, 0)
		switch {
		case interrupted(err):
		case err != nil:
			return written, err
		case n == 0:
			return written, fmt.Errorf("writing %d bytes to %s: %w", len(p)-written, c.name, errNoProgress)
		}
	}
	return written, nil
}

// Drain waits until written bytes have left the port, waiting again when a
// signal interrupts the wait (the TCSBRK ioctl go.bug.st/serial uses returns
// EINTR then, whatever the signal's handler flags).
func (c *serialConn) Drain() error {
	for {
		err := c.port.Drain()
		if !interrupted(err) {
			return err
		}
	}
}

// interrupted reports whether err is a system call that a signal
// interrupted, which is to be made again. Only Unix systems report it; on
// Windows no serial call returns it.
func interrupted(err error) bool { return errors.Is(err, syscall.EINTR) }

// Close closes the port, which ends a pending Read, and releases the lock.
func (c *serialConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.closeRead()
	err := c.port.Close()
	c.release()
	return err
}
