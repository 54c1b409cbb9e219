package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/posagent/posagent/agent/status"
	"github.com/posagent/posagent/config"
)

// runQueueExport runs "posagent queue export": every payment with its final
// result and audit trail, as CSV or JSON, read from the store file or,
// while the agent runs, through its status endpoint.
func runQueueExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("queue export", "[-config PATH] [-since DATE] [-format csv|json]", stderr)
	cfgFlag := configFlag(fs)
	sinceFlag := fs.String("since", "", "only payments accepted at or after this date (2026-11-30, UTC) or time (RFC 3339)")
	format := fs.String("format", exportCSV, "csv or json")
	if code, done := parse(fs, args); done {
		return code
	}
	if *format != exportCSV && *format != exportJSON {
		return usageError(fs, "-format %q is not csv or json", *format)
	}
	var since time.Time
	if *sinceFlag != "" {
		t, err := status.ParseSince(*sinceFlag)
		if err != nil {
			return usageError(fs, "-%v", err)
		}
		since = t
	}
	cfg, err := config.Load(configPath(*cfgFlag))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	r, err := status.OpenReader(cfg.Storage.Path, cfg.StatusEndpoint(), time.Second)
	if err != nil {
		fmt.Fprintf(stderr, "posagent queue export: %v\n", err)
		return exitFailure
	}
	defer r.Close()
	out := bufio.NewWriterSize(stdout, 64<<10)
	err = writeExport(ctx, r, out, since, *format)
	if err == nil {
		err = out.Flush()
	}
	if err != nil {
		fmt.Fprintf(stderr, "posagent queue export: %v\n", err)
		return exitFailure
	}
	return exitOK
}
