package service

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// Exit statuses of Command, as for every posagent command.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

const usage = `usage: posagent service install|uninstall|start|stop|restart|status [-config PATH]

  install    register posagent with the service manager, started at boot and
             restarted after every failure, running with the config file PATH
  uninstall  stop and remove the service; config and payment store stay
  start      start the service
  stop       stop the service
  restart    stop and start the service, to read a changed config
  status     say whether the service is installed and running, and its config

  -config PATH  the config file (default: POSAGENT_CONFIG, else the platform's
                default path); install makes it absolute
`

// Command carries out `posagent service ACTION [-config PATH]`; args are the
// words after "service". resolveConfig turns the -config flag value (maybe
// empty) into the config file to use, applying POSAGENT_CONFIG and the
// platform default. It returns the exit status: 0 on success, 1 when the
// service manager refused, 2 for a usage error.
func Command(args []string, stdout, stderr io.Writer, resolveConfig func(flagValue string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	action := args[0]
	fs := flag.NewFlagSet("posagent service "+action, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configFlag := fs.String("config", "", "the config file")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		fmt.Fprintf(stderr, "posagent service %s: %v; see 'posagent service -h'\n", action, err)
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "posagent service %s: unexpected argument %q; see 'posagent service -h'\n", action, fs.Arg(0))
		return exitUsage
	}
	switch action {
	case "install", "uninstall", "start", "stop", "restart", "status":
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "posagent service: unknown action %q; use install, uninstall, start, stop, restart or status\n", action)
		return exitUsage
	}

	m, err := NewManager(Name, resolveConfig(*configFlag))
	if err != nil {
		fmt.Fprintf(stderr, "posagent service %s: %v\n", action, err)
		return exitFailure
	}
	if err := do(m, action, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "posagent service %s: %v\n", action, err)
		return exitFailure
	}
	return exitOK
}

// do carries out one action with m and says what it did.
func do(m *Manager, action string, stdout, stderr io.Writer) error {
	switch action {
	case "install":
		if _, err := os.Stat(m.ConfigPath); err != nil {
			fmt.Fprintf(stderr, "warning: the config file %s cannot be read (%v); the service will not start until it is there\n", m.ConfigPath, err)
		}
		if err := m.Install(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "installed the %s service: %s %s\n", m.Name, m.Executable, joinArgs(RunArgs(m.ConfigPath)))
		fmt.Fprintf(stdout, "start it with 'posagent service start' (it also starts at every boot)\n")
	case "uninstall":
		if err := m.Uninstall(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed the %s service; its config and payment store are kept\n", m.Name)
	case "start":
		if err := m.Start(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "started the %s service\n", m.Name)
	case "stop":
		if err := m.Stop(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "stopped the %s service\n", m.Name)
	case "restart":
		if err := m.Restart(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "restarted the %s service\n", m.Name)
	case "status":
		st, err := m.Status()
		if err != nil {
			return err
		}
		writeStatus(stdout, m, st)
	}
	return nil
}

// writeStatus prints st the way a technician reads it.
func writeStatus(w io.Writer, m *Manager, st Status) {
	yesNo := map[bool]string{true: "yes", false: "no"}
	fmt.Fprintf(w, "service:    %s\n", m.Name)
	fmt.Fprintf(w, "installed:  %s\n", yesNo[st.Installed])
	if !st.Installed {
		fmt.Fprintf(w, "running:    no\n")
		fmt.Fprintf(w, "config:     %s (used by 'posagent service install')\n", m.ConfigPath)
		return
	}
	fmt.Fprintf(w, "running:    %s (%s)\n", yesNo[st.Running], st.State)
	config := st.ConfigPath
	if config == "" {
		config = "(not named; the platform default)"
	}
	fmt.Fprintf(w, "config:     %s\n", config)
	fmt.Fprintf(w, "defined in: %s\n", st.Definition)
}

// joinArgs writes args for a message, quoting those with blanks.
func joinArgs(args []string) string {
	s := ""
	for i, a := range args {
		if i > 0 {
			s += " "
		}
		for _, c := range a {
			if c == ' ' || c == '\t' {
				a = fmt.Sprintf("%q", a)
				break
			}
		}
		s += a
	}
	return s
}
