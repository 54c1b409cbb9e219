//go:build !windows

package service

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"
)

// runInTerminal runs the agent until SIGINT (Ctrl+C) or SIGTERM.
func runInTerminal(ctx context.Context, log zerolog.Logger, run func(context.Context) error) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err := runUntil(ctx, log, StopTimeout, run)
	return err
}

// runUnderManager is runInTerminal: systemd stops a service with SIGTERM and
// restarts it whatever its exit status (Restart=always).
func runUnderManager(ctx context.Context, _ string, log zerolog.Logger, run func(context.Context) error) error {
	return runInTerminal(ctx, log, run)
}
