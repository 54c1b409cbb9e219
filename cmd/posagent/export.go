package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
)

// runQueueExport runs "posagent queue export": every payment with its final
// result and audit trail, as CSV or JSON, read from the store file or,
// while the agent runs, through its status endpoint.
func runQueueExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("queue export", "[-config PATH] [-since DATE] [-format csv|json]", stderr)
	cfgFlag := configFlag(fs)
	since := sinceFlag(fs)
	format := fs.String("format", exportCSV, "csv or json")
	if code, done := parse(fs, args); done {
		return code
	}
	if *format != exportCSV && *format != exportJSON {
		return usageError(fs, "-format %q is not csv or json", *format)
	}
	_, r, code, ok := openStore(*cfgFlag, "queue export", stderr)
	if !ok {
		return code
	}
	defer r.Close()
	out := bufio.NewWriterSize(stdout, 64<<10)
	err := writeExport(ctx, r, out, *since, *format)
	if err == nil {
		err = out.Flush()
	}
	if err != nil {
		fmt.Fprintf(stderr, "posagent queue export: %v\n", err)
		return exitFailure
	}
	return exitOK
}
