package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/posagent/posagent/agent/status"
	"github.com/posagent/posagent/queue"
)

// runQueue runs "posagent queue list" and "posagent queue show REQ": it
// reads the payment store named by the configuration, read-only.
func runQueue(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const synopsis = "list [-limit N] [-before REQ] [-since DATE] | show REQ [-config PATH] [-json]"
	if len(args) > 0 && args[0] == "export" {
		return runQueueExport(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || (args[0] != "list" && args[0] != "show") {
		fmt.Fprintf(stderr, "usage: posagent queue %s\n", synopsis)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	var req string
	if sub == "show" {
		if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
			fmt.Fprintln(stderr, "posagent queue show: give the request id of the payment, e.g. posagent queue show pos-42.")
			return exitUsage
		}
		req, args = args[0], args[1:]
	}
	fs := newFlagSet("queue "+sub, synopsis, stderr)
	cfgFlag := configFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	var (
		limit  *int
		before *string
		since  = new(time.Time)
	)
	if sub == "list" {
		limit = fs.Int("limit", defaultListLimit, "print at most this many payments, the most recently accepted first; 0 prints all")
		before = fs.String("before", "", "only payments accepted before the one with this request id: the next page")
		since = sinceFlag(fs)
	}
	if code, done := parse(fs, args); done {
		return code
	}
	if sub == "list" && *limit < 0 {
		return usageError(fs, "-limit %d is not 0 or more", *limit)
	}
	_, store, code, ok := openStore(*cfgFlag, "queue", stderr)
	if !ok {
		return code
	}
	defer store.Close()
	if sub == "list" {
		return listPayments(ctx, store, stdout, stderr, queue.Filter{Limit: *limit, Since: *since}, *before, *asJSON)
	}
	p, err := store.Get(ctx, req)
	if errors.Is(err, queue.ErrNotFound) {
		fmt.Fprintf(stderr, "posagent queue show: no payment with request id %q is stored in %s.\n", req, store.Source())
		return exitFailure
	}
	if err == nil {
		err = writePayment(stdout, p, *asJSON)
	}
	if err != nil {
		fmt.Fprintf(stderr, "posagent queue show: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// defaultListLimit is how many payments `posagent queue list` prints
// unless told otherwise.
const defaultListLimit = 50

// listPayments prints a page of `posagent queue list`: the payments f
// selects after the one with request id before (from the most recent when
// empty), at most f.Limit (all when 0), reading only as many as it prints
// (and one more, to know whether there are). When more are left, it says
// on stderr how to print the next page.
func listPayments(ctx context.Context, r status.Reader, stdout, stderr io.Writer, f queue.Filter, before string, asJSON bool) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "posagent queue list: %v\n", err)
		return exitFailure
	}
	if before != "" {
		p, err := r.Get(ctx, before)
		if errors.Is(err, queue.ErrNotFound) {
			return fail(fmt.Errorf("-before %s: no payment with that request id is stored in %s; give one that queue list printed", before, r.Source()))
		} else if err != nil {
			return fail(err)
		}
		f.After = queue.PositionOf(&p)
	}
	limit := f.Limit
	if limit > 0 {
		f.Limit = limit + 1
	}
	out := bufio.NewWriterSize(stdout, 64<<10)
	l := newLister(out, asJSON)
	n, last, more := 0, "", false
	errMore := errors.New("more")
	var werr error
	err := r.Each(ctx, f, func(p *queue.Payment) error {
		if limit > 0 && n == limit {
			more = true
			return errMore
		}
		n, last = n+1, p.RequestID
		werr = l.add(p)
		return werr
	})
	switch {
	case werr != nil:
		return fail(werr)
	case err != nil && !errors.Is(err, errMore):
		return fail(fmt.Errorf("cannot read the payments from %s: %w", r.Source(), err))
	}
	if err := l.close(); err != nil {
		return fail(err)
	}
	if err := out.Flush(); err != nil {
		return fail(err)
	}
	if more {
		fmt.Fprintf(stderr, "(%d shown; older ones: posagent queue list -before %s)\n", n, last)
	}
	return exitOK
}
