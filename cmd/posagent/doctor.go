package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/posagent/posagent/doctor"
)

// runDoctor runs "posagent doctor": every check of doctor.Run, one line
// each. Exit status 0 when nothing failed, 1 otherwise.
func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("doctor", "[-config PATH]", stderr)
	cfgFlag := configFlag(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	switch err := doctor.Run(ctx, configPath(*cfgFlag), stdout, doctor.Options{}); {
	case err == nil:
		return exitOK
	case errors.Is(err, doctor.ErrChecksFailed):
		fmt.Fprintln(stderr, "posagent doctor: some checks failed; fix the FAIL lines above, then run posagent doctor again.")
		return exitFailure
	default:
		fmt.Fprintln(stderr, "posagent doctor: the configuration does not load; fix the FAIL line above, then run posagent doctor again.")
		return exitUsage
	}
}
