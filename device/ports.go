package device

import (
	"fmt"
	"strings"

	"go.bug.st/serial/enumerator"
)

// PortInfo describes a serial port of the machine, for "posagent ports".
type PortInfo struct {
	Name   string // device path or COM name
	USB    bool   // a USB adapter; VID, PID and Serial are set
	VID    string // USB vendor id, 4 lowercase hex digits
	PID    string // USB product id, 4 lowercase hex digits
	Serial string // USB serial number; "" when the adapter has none
}

// String renders p as a technician writes it in the configuration:
// "/dev/ttyUSB0 usb=0403:6001:A50285BI".
func (p PortInfo) String() string {
	if !p.USB {
		return p.Name
	}
	return p.Name + " usb=" + p.USBID()
}

// USBID returns the USB identity as register.usb takes it,
// "VID:PID:SERIAL" or "VID:PID" for an adapter without a serial number, or
// "" for a port that is not a USB adapter.
func (p PortInfo) USBID() string {
	if !p.USB {
		return ""
	}
	id := p.VID + ":" + p.PID
	if p.Serial != "" {
		id += ":" + p.Serial
	}
	return id
}

// ListPorts returns the serial ports of the machine with their USB identity.
// VID and PID are lowercase whatever the platform reports.
func ListPorts() ([]PortInfo, error) {
	details, err := enumerator.GetDetailedPortsList()
	if err != nil {
		return nil, fmt.Errorf("listing serial ports: %w", err)
	}
	ports := make([]PortInfo, 0, len(details))
	for _, d := range details {
		ports = append(ports, PortInfo{
			Name:   d.Name,
			USB:    d.IsUSB,
			VID:    strings.ToLower(d.VID),
			PID:    strings.ToLower(d.PID),
			Serial: d.SerialNumber,
		})
	}
	return ports, nil
}
