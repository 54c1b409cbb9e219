package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/posagent/posagent/config"
	"github.com/posagent/posagent/queue"
	"github.com/posagent/posagent/reconcile"
)

const reconcileSynopsis = "[-config PATH] [-format table|csv|json] [-from DATE] [-to DATE] [-request-prefix PREFIX] [-allow-missing-end] [-no-record] FILE..."

// runReconcile runs "posagent reconcile FILE...": it compares Antom's
// transaction or settlement details reports with the stored payments,
// prints what differs, and keeps a summary for the status page. Exit
// status 0: nothing differs; 1: something does (or the store could not be
// read); 2: bad command line, configuration or report.
func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("reconcile", reconcileSynopsis, stderr)
	cfgFlag := configFlag(fs)
	format := fs.String("format", reconcile.FormatTable, "table (for people), csv or json (for scripts)")
	fromFlag := fs.String("from", "", "start of the period the reports cover: a date (00:00 UTC+8, Antom's day) or an RFC 3339 time (default: the day of the reports' first transaction)")
	toFlag := fs.String("to", "", "end of the period, not included: a date or an RFC 3339 time (default: the end of the day of the reports' last transaction)")
	prefix := fs.String("request-prefix", "", "compare only payments whose request id starts with this: the prefix this terminal's register gives its req ids, where several terminals share one merchant account")
	allowNoEnd := fs.Bool("allow-missing-end", false, "read a report whose last line is not <END> instead of refusing it as possibly cut short")
	noRecord := fs.Bool("no-record", false, "do not keep this run's summary for the status page and the metrics")
	files, code, done := parseFiles(fs, args)
	if done {
		return code
	}
	switch {
	case *format != reconcile.FormatTable && *format != reconcile.FormatCSV && *format != reconcile.FormatJSON:
		return usageError(fs, "-format %q is not table, csv or json", *format)
	case len(files) == 0:
		return usageError(fs, "give the report files to compare, e.g. posagent reconcile transactions_20261130.csv")
	}
	opts := reconcile.Options{RequestPrefix: *prefix}
	for _, f := range []struct {
		name  string
		value string
		to    *time.Time
	}{{"from", *fromFlag, &opts.From}, {"to", *toFlag, &opts.To}} {
		if f.value == "" {
			continue
		}
		t, err := reconcile.ParseTime(f.value)
		if err != nil {
			return usageError(fs, "-%s %v", f.name, err)
		}
		*f.to = t
	}

	var reports []*reconcile.Report
	for _, path := range files {
		rep, err := reconcile.ReadFile(path, reconcile.ReadOptions{AllowMissingEnd: *allowNoEnd})
		if err != nil {
			fmt.Fprintf(stderr, "posagent reconcile: %v\n", err)
			return exitUsage
		}
		if rep.NoEnd {
			fmt.Fprintf(stderr, "posagent reconcile: warning: %s does not end with <END> and may be cut short; it was read as it is (-allow-missing-end).\n", path)
		}
		reports = append(reports, rep)
	}
	cfg, r, code, ok := openStore(*cfgFlag, "reconcile", stderr)
	if !ok {
		return code
	}
	res, err := reconcile.Match(ctx, reports, r, opts)
	r.Close()
	if err != nil {
		fmt.Fprintf(stderr, "posagent reconcile: %v\n", err)
		if errors.Is(err, reconcile.ErrNoPeriod) || errors.Is(err, reconcile.ErrBadPeriod) {
			return exitUsage
		}
		return exitFailure
	}
	if err := reconcile.Write(stdout, res, *format); err != nil {
		fmt.Fprintf(stderr, "posagent reconcile: %v\n", err)
		return exitFailure
	}
	if !*noRecord {
		if err := record(ctx, cfg, res.Summary(time.Now())); err != nil {
			fmt.Fprintf(stderr, "posagent reconcile: warning: the summary of this run was not kept for the status page: %v\n", err)
		}
	}
	if res.Discrepancies() > 0 {
		return exitFailure
	}
	return exitOK
}

// parseFiles parses args, in which flags and file names may be mixed, and
// returns the file names. done is true when the command must stop at once
// with the exit status code, as for parse.
func parseFiles(fs *flag.FlagSet, args []string) (files []string, code int, done bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, true
			}
			return nil, exitUsage, true
		}
		if fs.NArg() == 0 {
			return files, exitOK, false
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// record keeps sum as the last reconciliation: in the store file when no
// agent holds it, else through the running agent's status endpoint, which
// demands the token of status.token_file for it.
func record(ctx context.Context, cfg *config.Config, sum queue.Reconciliation) error {
	store, err := queue.Open(cfg.Storage.Path, queue.Options{LockTimeout: time.Second})
	if err == nil {
		err = store.PutReconciliation(sum)
		if cerr := store.Close(); err == nil {
			err = cerr
		}
		return err
	}
	if !errors.Is(err, queue.ErrLocked) {
		return err
	}
	c, err := cfg.StatusEndpoint().WriteClient()
	if err != nil {
		return fmt.Errorf("a running posagent holds %s: %w", cfg.Storage.Path, err)
	}
	return c.PutReconciliation(ctx, sum)
}
