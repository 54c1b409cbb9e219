package agent

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"go.bug.st/serial"
	"go.bug.st/serial/enumerator"
)

// checkPort finds the register's serial port (by name, or by USB identity
// for port = "auto"), says which USB adapter it is, and opens and closes it
// once with the configured line settings. While a running agent holds the
// store it holds the port too, so the port is then only looked up, never
// opened: a second opener (root ignores the exclusive lock) could disturb
// the agent's line.
func checkPort(r *doctorReport, cfg *Config, storeHeld bool) {
	ports, listErr := enumerator.GetDetailedPortsList()
	name := cfg.Register.Port
	if name == PortAuto {
		p := findUSB(ports, cfg.Register.USB)
		if p == nil {
			r.fail("port", fmt.Sprintf("no serial adapter with USB identity %s is plugged in; plug in the register's cable, or correct register.usb from the list posagent ports prints", cfg.Register.USB))
			return
		}
		name = p.Name
	}
	identity := "not a USB adapter"
	known := false
	for _, p := range ports {
		if p.Name == name {
			known = true
			if p.IsUSB {
				identity = "USB " + usbIdentity(p)
			}
		}
	}
	if !known {
		if _, err := os.Stat(name); err != nil {
			hint := "plug in the register's cable or correct register.port"
			if listErr == nil && len(ports) > 0 {
				var names []string
				for _, p := range ports {
					names = append(names, p.Name)
				}
				hint += "; ports present: " + strings.Join(names, ", ")
			}
			r.fail("port", fmt.Sprintf("serial port %s does not exist; %s", name, hint))
			return
		}
		identity = "USB identity unknown"
	}
	desc := name
	if name != cfg.Register.Port {
		desc = fmt.Sprintf("%s (found by %s)", name, cfg.Register.Port+" "+cfg.Register.USB)
	}
	if storeHeld {
		r.pass("port", fmt.Sprintf("%s exists, %s; held by the running posagent, so not opened", desc, identity))
		return
	}
	port, err := serial.Open(name, &serial.Mode{
		BaudRate: cfg.Register.Baud,
		DataBits: 8,
		Parity:   serialParity(cfg.Register.Parity),
		StopBits: serialStopBits(cfg.Register.StopBits),
	})
	if err != nil {
		r.fail("port", fmt.Sprintf("%s, %s, cannot be opened: %s", desc, identity, openAdvice(err)))
		return
	}
	port.Close()
	r.pass("port", fmt.Sprintf("%s opens at %d baud, %s", desc, cfg.Register.Baud, identity))
}

// findUSB returns the port whose USB identity matches usb ("VID:PID" or
// "VID:PID:SERIAL", any case), or nil.
func findUSB(ports []*enumerator.PortDetails, usb string) *enumerator.PortDetails {
	want := strings.Split(strings.ToLower(usb), ":")
	for _, p := range ports {
		if !p.IsUSB || len(want) < 2 {
			continue
		}
		if strings.ToLower(p.VID) != want[0] || strings.ToLower(p.PID) != want[1] {
			continue
		}
		if len(want) == 3 && strings.ToLower(p.SerialNumber) != want[2] {
			continue
		}
		return p
	}
	return nil
}

// usbIdentity returns p's identity as register.usb takes it.
func usbIdentity(p *enumerator.PortDetails) string {
	id := strings.ToLower(p.VID + ":" + p.PID)
	if p.SerialNumber != "" {
		id += ":" + p.SerialNumber
	}
	return id
}

// openAdvice says why a port did not open and what to do.
func openAdvice(err error) string {
	var pe *serial.PortError
	if errors.As(err, &pe) {
		switch pe.Code() {
		case serial.PortBusy:
			return fmt.Sprintf("%v; another program holds it: stop it (on Linux, fuser shows which)", err)
		case serial.PermissionDenied:
			return fmt.Sprintf("%v; run posagent as a user allowed to use serial ports (on Linux, in the dialout group)", err)
		case serial.PortNotFound:
			return fmt.Sprintf("%v; plug in the register's cable or correct register.port", err)
		case serial.InvalidSpeed, serial.InvalidParity, serial.InvalidStopBits, serial.InvalidDataBits:
			return fmt.Sprintf("%v; the adapter does not take these settings: check baud, parity and stop_bits in [register]", err)
		}
	}
	return fmt.Sprintf("%v; check the cable and the adapter", err)
}

func serialParity(p string) serial.Parity {
	switch p {
	case "even":
		return serial.EvenParity
	case "odd":
		return serial.OddParity
	}
	return serial.NoParity
}

func serialStopBits(n int) serial.StopBits {
	if n == 2 {
		return serial.TwoStopBits
	}
	return serial.OneStopBit
}
