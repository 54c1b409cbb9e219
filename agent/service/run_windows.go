//go:build windows

package service

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/windows/svc"
)

// errEndedByItself is the failure reported when the agent returns without
// error while nobody asked it to stop: a service that ends by itself has
// failed, and the Service Control Manager should start it again.
var errEndedByItself = errors.New("the agent stopped by itself without an error; it is restarted by the service manager")

// runInTerminal runs the agent until Ctrl+C or Ctrl+Break.
func runInTerminal(ctx context.Context, log zerolog.Logger, run func(context.Context) error) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	_, err := runUntil(ctx, log, StopTimeout, run)
	return err
}

// runUnderManager runs the agent as the Windows service name. It talks to the
// Service Control Manager itself rather than through kardianos, whose handler
// cannot end the service when the agent fails on its own.
//
// The recovery actions are set again first: an installer that registers the
// service cannot set them, and the service runs with the rights to.
func runUnderManager(ctx context.Context, name string, log zerolog.Logger, run func(context.Context) error) error {
	if err := setRecovery(name); err != nil {
		log.Warn().Err(err).Msg("the service may not restart by itself after a failure")
	}
	h := &handler{ctx: ctx, log: log, run: run}
	if err := svc.Run(name, h); err != nil {
		return err
	}
	return h.err
}

// handler is the svc.Handler that runs the agent.
type handler struct {
	ctx context.Context
	log zerolog.Logger
	run func(context.Context) error
	err error // how the agent ended, for Run to return
}

// Execute runs the agent until the Service Control Manager asks it to stop.
//
// An agent that ends by itself has failed: Execute reports a service-specific
// exit code, which with the failure actions flag set counts as a failure and
// triggers the recovery actions. An agent that ends because it was asked to
// stop reports success even when it returns an error, as a failure then would
// restart a service the technician stopped.
func (h *handler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (svcSpecificEC bool, exitCode uint32) {
	const accepts = svc.AcceptStop | svc.AcceptShutdown
	status <- svc.Status{State: svc.StartPending}

	stop, requestStop := context.WithCancel(h.ctx)
	defer requestStop()
	type result struct {
		stopped bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		stopped, err := runUntil(stop, h.log, StopTimeout, h.run)
		done <- result{stopped, err}
	}()
	status <- svc.Status{State: svc.Running, Accepts: accepts}

	for {
		select {
		case r := <-done:
			// A service has no stderr to print the error on, so it goes
			// to the log here: its file and the Event Log.
			h.err = r.err
			if r.stopped {
				if h.err != nil {
					h.log.Error().Err(h.err).Msg("the service stopped with an error")
				}
				return false, 0
			}
			if h.err == nil {
				h.err = errEndedByItself
			}
			h.log.Error().Err(h.err).Msg("the service failed and stops; the service manager starts it again")
			return true, 1
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: uint32((StopTimeout + 5*time.Second).Milliseconds())}
				requestStop()
			}
		}
	}
}
