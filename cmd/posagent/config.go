package main

import (
	"context"
	"fmt"
	"io"

	"github.com/posagent/posagent/config"
)

// runConfig runs "posagent config check": it loads the configuration and
// the key files and prints every problem, or that all is well after a
// "warning:" line for each warning (which does not fail the check).
func runConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	const synopsis = "check [-config PATH]"
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintf(stderr, "usage: posagent config %s\n", synopsis)
		return exitUsage
	}
	fs := newFlagSet("config check", "[-config PATH]", stderr)
	cfgFlag := configFlag(fs)
	if code, done := parse(fs, args[1:]); done {
		return code
	}
	path := configPath(*cfgFlag)
	cfg, _, err := config.Check(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintln(stderr, "warning:", w)
	}
	fmt.Fprintln(stdout, "config OK:", path)
	return exitOK
}
