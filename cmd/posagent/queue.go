package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/posagent/posagent/agent/status"
	"github.com/posagent/posagent/config"
	"github.com/posagent/posagent/queue"
)

// runQueue runs "posagent queue list" and "posagent queue show REQ": it
// reads the payment store named by the configuration, read-only.
func runQueue(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const synopsis = "list|show REQ [-config PATH] [-json]"
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
	if code, done := parse(fs, args); done {
		return code
	}
	cfg, err := config.Load(configPath(*cfgFlag))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	// The store file read-only, or the running agent's status endpoint
	// while the agent holds the file.
	store, err := status.OpenReader(cfg.Storage.Path, cfg.StatusEndpoint(), time.Second)
	if err != nil {
		fmt.Fprintf(stderr, "posagent queue: %v\n", err)
		return exitFailure
	}
	defer store.Close()
	if sub == "list" {
		ps, err := store.List(ctx, queue.Filter{})
		if err == nil {
			err = writePayments(stdout, ps, *asJSON)
		}
		if err != nil {
			fmt.Fprintf(stderr, "posagent queue list: %v\n", err)
			return exitFailure
		}
		return exitOK
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
