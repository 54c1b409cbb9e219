package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/posagent/posagent/report"
)

const reportSynopsis = "[-config PATH] [-day YYYY-MM-DD] [-format table|csv|json]"

// runReport runs "posagent report": the day at this terminal, the totals a
// cashier prints at closing, read from the store file or, while the agent
// runs, through its status endpoint. Days are counted in the terminal's
// time zone. Exit status 0: the report was printed; 1: the store could not
// be read; 2: bad command line or configuration.
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return reportAt(ctx, args, stdout, stderr, time.Now(), time.Local)
}

// reportAt is runReport with the present instant and the terminal's time
// zone given, for the tests.
func reportAt(ctx context.Context, args []string, stdout, stderr io.Writer, now time.Time, zone *time.Location) int {
	fs := newFlagSet("report", reportSynopsis, stderr)
	cfgFlag := configFlag(fs)
	dayFlag := fs.String("day", "", "the day to report, in this terminal's time zone (default: today)")
	format := fs.String("format", report.FormatTable, "table (for people), csv or json (for scripts)")
	if code, done := parse(fs, args); done {
		return code
	}
	if *format != report.FormatTable && *format != report.FormatCSV && *format != report.FormatJSON {
		return usageError(fs, "-format %q is not table, csv or json", *format)
	}
	day := report.DayOf(now, zone)
	if *dayFlag != "" {
		d, err := report.ParseDay(*dayFlag, zone)
		if err != nil {
			return usageError(fs, "-%v", err)
		}
		day = d
	}
	_, r, code, ok := openStore(*cfgFlag, "report", stderr)
	if !ok {
		return code
	}
	rep, err := report.Read(ctx, r, day)
	r.Close()
	if err == nil {
		err = report.Write(stdout, rep, *format)
	}
	if err != nil {
		fmt.Fprintf(stderr, "posagent report: %v\n", err)
		return exitFailure
	}
	return exitOK
}
