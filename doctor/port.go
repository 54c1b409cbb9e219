package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/posagent/posagent/config"
	"github.com/posagent/posagent/device"
)

// checkPort finds the register's serial port as the agent does (by name, or
// by USB identity for port = "auto"), says which USB adapter it is, and
// opens and closes it once with the configured line settings. While a
// running agent holds the store it holds the port too, so the port is then
// only looked up, never opened: a second opener could disturb the agent's
// line.
func checkPort(ctx context.Context, r *report, cfg *config.Config, storeHeld bool) {
	pc := cfg.Register.PortConfig()
	ports, listErr := device.ListPorts()
	name, err := pc.Resolve()
	if err != nil {
		msg := err.Error()
		if pc.Path != device.PortAuto && listErr == nil && len(ports) > 0 {
			msg += "; ports present: " + portNames(ports)
		}
		r.fail("port", msg)
		return
	}
	desc := name
	if name != pc.Path {
		desc = fmt.Sprintf("%s (found by %s)", name, strings.TrimSpace(pc.Path+" "+pc.USB))
	}
	identity := portIdentity(ports, listErr, name)
	if storeHeld {
		r.pass("port", fmt.Sprintf("%s exists, %s; held by the running posagent, so not opened", desc, identity))
		return
	}
	conn, err := device.OpenPort(ctx, pc)
	if err != nil {
		r.fail("port", fmt.Sprintf("%s, %s: %v", desc, identity, err))
		return
	}
	conn.Close()
	r.pass("port", fmt.Sprintf("%s opens at %d baud, %s", desc, cfg.Register.Baud, identity))
}

// portIdentity says what kind of port name is: its USB identity as
// register.usb takes it, not a USB adapter, or unknown when the system does
// not list it.
func portIdentity(ports []device.PortInfo, listErr error, name string) string {
	for _, p := range ports {
		if p.Name == name {
			if !p.USB {
				return "not a USB adapter"
			}
			return "USB " + p.USBID()
		}
	}
	if listErr != nil {
		return fmt.Sprintf("USB identity unknown (%v)", listErr)
	}
	return "USB identity unknown"
}

// portNames lists the ports' names for a message.
func portNames(ports []device.PortInfo) string {
	names := make([]string, len(ports))
	for i, p := range ports {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}
