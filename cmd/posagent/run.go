package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/rs/zerolog"

	"github.com/posagent/posagent/agent"
	"github.com/posagent/posagent/agent/service"
	"github.com/posagent/posagent/config"
)

// runRun runs "posagent run": the agent in the foreground until SIGINT or
// SIGTERM, or under the service manager until it stops the service. Both take
// the same path through service.Run, which registers with the Windows service
// manager before anything here can fail, so a bad configuration shows up as a
// service failure (and its recovery actions) rather than a start that hangs.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", "[-config PATH]", stderr)
	cfgFlag := configFlag(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	path := configPath(*cfgFlag)

	// Nothing before service.Run may end the process: the boot log falls
	// back to stderr when the system's log sinks cannot be opened.
	var bootOut io.Writer = stderr
	journal := false
	if boot, err := service.OpenLog(service.Name, "", stderr); err == nil {
		defer boot.Close()
		bootOut, journal = boot, boot.Journal()
	}
	bootLog := zerolog.New(bootOut).With().Timestamp().Logger()

	code := exitOK
	err := service.Run(ctx, service.Name, bootLog, func(ctx context.Context) error {
		cfg, err := config.Load(path)
		if err != nil {
			code = exitUsage
			return err
		}
		out, err := service.OpenLog(service.Name, cfg.Log.File, stderr)
		if err != nil {
			code = exitUsage
			return err
		}
		defer out.Close()
		// A log file, the journal, and a Windows service with its Event Log
		// take the service package's text lines. Other lines bound for
		// stderr are console lines on a terminal and JSON otherwise, for
		// the program that collects them.
		var w io.Writer = out
		console := false
		if out.File() == "" && !out.Journal() {
			w, console = stderr, service.IsTerminal(stderr)
		}
		log, err := service.NewLogger(w, cfg.Log.Level, console)
		if err != nil {
			code = exitUsage
			return err
		}
		if err := agent.Serve(ctx, cfg, log, version); err != nil {
			log.Error().Err(err).Msg("posagent stopped on an error")
			if _, bad := errors.AsType[*config.Error](err); bad {
				code = exitUsage
			}
			return err
		}
		return nil
	})
	if err != nil {
		if journal {
			// As an error, so that journalctl -p err shows it.
			bootLog.Error().Err(err).Msg("posagent run stopped")
		} else {
			fmt.Fprintf(stderr, "posagent run: %v\n", err)
		}
		if code == exitOK {
			code = exitFailure
		}
	}
	return code
}

// runService runs "posagent service ACTION": install, uninstall, start, stop,
// restart or status of the system service.
func runService(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return service.Command(args, stdout, stderr, configPath)
}
