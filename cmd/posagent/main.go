// Command posagent is the payment agent for in-store checkout terminals.
//
// It is one binary with subcommands; run it without arguments for the list.
// This package only reads the command line and wires the other packages
// together: the work is done in agent, alipay, device and queue.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit statuses, as docs/design.md promises them to scripts.
const (
	exitOK      = 0 // success
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // bad command line or bad configuration
)

// command is one subcommand of posagent.
type command struct {
	name     string
	synopsis string // arguments, for the usage text
	summary  string // one line saying what it does
	run      func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands in the order the usage text shows them.
func commands() []command {
	return []command{
		{"run", "[-config PATH]", "run the agent in the foreground (what the service runs)", runRun},
		{"demo", "[-payments N]", "a simulated register and a fake Alipay on this machine; shows payments flowing, no setup", runDemo},
		{"register-sim", "-port PATH", "act as a register on a real port, printing every frame, for line tests", runRegisterSim},
		{"queue", "list [-limit N] [-before REQ] [-since DATE] [-json] | show REQ [-json] | export [-since DATE] [-format csv|json] [-config PATH]", "list the newest stored payments a page at a time, show one with its audit trail, or export them all", runQueue},
		{"report", reportSynopsis, "the day at this terminal, for closing: by currency, the totals of SUCCESS, FAIL and CANCELLED, and the payments still open, flagged or not confirmed by the register", runReport},
		{"reconcile", reconcileSynopsis, "compare Antom's transaction or settlement details reports (CSV) with the stored payments; exit 1 when something differs", runReconcile},
		{"inquire", "[-config PATH] (-request-id ID | -payment-id ID) [-json]", "one signed inquiryPayment; prints Alipay's verified answer", runInquire},
		{"config", "check [-config PATH]", "validate the configuration, the key files and the status token file; print warnings, which do not fail it", runConfig},
		{"ports", "[-json]", "list serial ports with USB VID:PID and serial number", runPorts},
		{"service", "install|uninstall|start|stop|restart|status [-config PATH]", "install and control the system service", runService},
		{"doctor", "[-config PATH]", "check config, keys (and who may read the private key), store, the running agent's problems, port, Alipay reachability, that Alipay knows the last payment, and the clock", runDoctor},
		{"version", "", "print the version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches args (the command line without the program name) to a
// subcommand and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "posagent: unknown command %q; run posagent help for the list.\n", args[0])
	return exitUsage
}

// usage writes the list of subcommands to w.
func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: posagent COMMAND [ARGUMENTS]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  posagent %s %s\n        %s\n", c.name, c.synopsis, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Exit status: 0 success, 1 failure, 2 usage or configuration error.")
}

// runVersion prints the version stamped into the binary.
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "", stderr)
	if code, done := parse(fs, args); done {
		return code
	}
	fmt.Fprintln(stdout, "posagent", version)
	return exitOK
}
