package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/posagent/posagent/agent/status"
	"github.com/posagent/posagent/config"
)

// newFlagSet returns a flag set for the subcommand name whose usage text,
// written to stderr on a mistake, shows synopsis and the flags.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: posagent %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args into fs and refuses arguments left over. done is true
// when the command must stop at once with the exit status code: after -h
// (status 0) or a usage mistake (status 2, with the usage text on stderr).
func parse(fs *flag.FlagSet, args []string) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, true
		}
		return exitUsage, true
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0)), true
	}
	return exitOK, false
}

// usageError writes the mistake and the usage text to the flag set's output
// and returns the usage exit status.
func usageError(fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(fs.Output(), "posagent %s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return exitUsage
}

// configFlag adds the -config flag to fs; resolve the result with
// configPath.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "configuration file (default: $"+config.Env+", else "+config.DefaultPath()+")")
}

// configPath applies the precedence of docs/design.md: the -config flag, then the
// environment, then the platform's default.
func configPath(flagValue string) string {
	return config.ResolvePath(flagValue, os.Getenv)
}

// sinceFlag adds the -since flag to fs: a date (UTC) or an RFC 3339 time,
// parsed as the flag is, so that a bad value is a usage mistake.
func sinceFlag(fs *flag.FlagSet) *time.Time {
	since := new(time.Time)
	fs.Func("since", "only payments accepted at or after this date (2026-11-30, UTC) or time (RFC 3339)", func(v string) error {
		t, err := status.ParseSince(v)
		if err == nil {
			*since = t
		}
		return err
	})
	return since
}

// openStore loads the configuration at cfgPath and opens the payment store
// it names for reading: the file itself, read-only, or the running agent's
// status endpoint while the agent holds the file. When it cannot, it says
// why on stderr, in the name of command, and returns the exit status with
// ok false.
func openStore(cfgPath, command string, stderr io.Writer) (cfg *config.Config, r status.Reader, code int, ok bool) {
	cfg, err := config.Load(configPath(cfgPath))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, nil, exitUsage, false
	}
	r, err = status.OpenReader(cfg.Storage.Path, cfg.StatusEndpoint(), time.Second)
	if err != nil {
		fmt.Fprintf(stderr, "posagent %s: %v\n", command, err)
		return nil, nil, exitFailure, false
	}
	return cfg, r, exitOK, true
}
