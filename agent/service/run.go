package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// StopTimeout is how long Run waits for the agent to finish once asked to
// stop. It is shorter than the 15 s systemd gives the unit (TimeoutStopSec)
// so that Run, not a SIGKILL, ends the process.
const StopTimeout = 10 * time.Second

// ErrStopTimeout is returned by Run when the agent did not finish within
// StopTimeout of being asked to stop.
var ErrStopTimeout = errors.New("the agent did not stop within 10 s")

// Run runs the agent the same way in a terminal and under the service
// manager. run must return soon after its context is cancelled.
//
// In a terminal, and under systemd, which stops a service with SIGTERM, the
// context is cancelled on SIGINT or SIGTERM. Under the Windows Service Control
// Manager it is cancelled when the service is asked to stop or the machine
// shuts down. In every case, cancelling ctx stops the agent too, and Run
// returns ErrStopTimeout if the agent is still running StopTimeout after being
// asked to stop.
//
// log receives what Run itself has to say: the stop request, the failures
// of the Windows service's own settings, and, for a Windows service, which
// has no stderr, the error the agent ended with.
func Run(ctx context.Context, name string, log zerolog.Logger, run func(context.Context) error) error {
	if !underManager() {
		return runInTerminal(ctx, log, run)
	}
	return runUnderManager(ctx, name, log, run)
}

// runUntil runs run until it returns or stop is cancelled. Once stop is
// cancelled, run's context is cancelled and run has timeout to return.
// stopped reports whether run ended because it was asked to.
func runUntil(stop context.Context, log zerolog.Logger, timeout time.Duration, run func(context.Context) error) (stopped bool, err error) {
	ctx, cancel := context.WithCancel(stop)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	select {
	case err := <-done:
		return stop.Err() != nil, err
	case <-stop.Done():
	}
	log.Info().Msg("stopping")
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return true, err
	case <-timer.C:
		return true, fmt.Errorf("%w; giving up waiting, the process ends now", ErrStopTimeout)
	}
}
