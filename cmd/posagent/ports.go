package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/posagent/posagent/device"
)

// runPorts runs "posagent ports": it lists the machine's serial ports with
// the USB identity a technician copies into register.usb.
func runPorts(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("ports", "[-json]", stderr)
	asJSON := fs.Bool("json", false, "print the ports as JSON")
	if code, done := parse(fs, args); done {
		return code
	}
	ports, err := device.ListPorts()
	if err != nil {
		fmt.Fprintf(stderr, "posagent ports: %v; check that this user may read the serial devices.\n", err)
		return exitFailure
	}
	if err := writePorts(stdout, ports, *asJSON); err != nil {
		fmt.Fprintf(stderr, "posagent ports: cannot write the list: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// portJSON is one port in the -json output.
type portJSON struct {
	Name   string `json:"name"`
	USB    bool   `json:"usb"`
	VID    string `json:"vid,omitempty"`
	PID    string `json:"pid,omitempty"`
	Serial string `json:"serial,omitempty"`
}

// writePorts writes ports as a JSON array, or as a table whose last column
// is the register.usb value that picks the port.
func writePorts(w io.Writer, ports []device.PortInfo, asJSON bool) error {
	if asJSON {
		list := make([]portJSON, len(ports))
		for i, p := range ports {
			list[i] = portJSON{Name: p.Name, USB: p.USB, VID: p.VID, PID: p.PID, Serial: p.Serial}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	if len(ports) == 0 {
		_, err := fmt.Fprintln(w, "No serial ports found.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PORT\tVID:PID\tSERIAL\tREGISTER.USB")
	for _, p := range ports {
		if !p.USB {
			fmt.Fprintf(tw, "%s\t-\t-\t-\n", p.Name)
			continue
		}
		usb := p.VID + ":" + p.PID
		id := usb
		serial := "-"
		if p.Serial != "" {
			id += ":" + p.Serial
			serial = p.Serial
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%q\n", p.Name, usb, serial, id)
	}
	return tw.Flush()
}
