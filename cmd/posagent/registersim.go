package main

import (
	"context"
	"fmt"
	"io"

	"github.com/posagent/posagent/device"
)

// runRegisterSim runs "posagent register-sim": it acts as a register on a
// real port until interrupted, printing every frame and link event, so a
// technician can check a cable and the agent on its other end.
func runRegisterSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const synopsis = "-port PATH [-baud N] [-parity none|even|odd] [-stop-bits 1|2]"
	fs := newFlagSet("register-sim", synopsis, stderr)
	port := fs.String("port", "", "the serial port the register side is on, such as /dev/ttyUSB1 or COM4")
	baud := fs.Int("baud", 115200, "line speed")
	parity := fs.String("parity", "none", "none, even or odd")
	stopBits := fs.Int("stop-bits", 1, "1 or 2")
	if code, done := parse(fs, args); done {
		return code
	}
	if *port == "" {
		return usageError(fs, "give the port with -port, for example -port /dev/ttyUSB1")
	}
	cfg := device.PortConfig{Path: *port, Baud: *baud, Parity: *parity, StopBits: *stopBits}
	if err := cfg.Validate(); err != nil {
		return usageError(fs, "%v", err)
	}
	if err := device.RunRegisterSim(ctx, stdout, cfg, device.WithName("posagent register-sim "+version)); err != nil {
		fmt.Fprintf(stderr, "posagent register-sim: %v\n", err)
		return exitFailure
	}
	return exitOK
}
