package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/posagent/posagent/agent"
)

// runRun runs "posagent run": the agent in the foreground until SIGINT or
// SIGTERM, which is what the service runs.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", "[-config PATH]", stderr)
	cfgFlag := configFlag(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	cfg, err := agent.LoadConfig(configPath(*cfgFlag))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	log, closer, err := agent.OpenLog(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "posagent run: %v\n", err)
		return exitUsage
	}
	defer closer.Close()
	if err := agent.Serve(ctx, cfg, log, version); err != nil {
		log.Error().Err(err).Msg("posagent stopped on an error")
		fmt.Fprintf(stderr, "posagent run: %v\n", err)
		if _, bad := errors.AsType[*agent.ConfigError](err); bad {
			return exitUsage
		}
		return exitFailure
	}
	return exitOK
}
