package service

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/posagent/posagent/internal/postest"
	"github.com/rs/zerolog"
)

func TestRunUntilReturnsWhatRunReturnsWhenNotStopped(t *testing.T) {
	boom := errors.New("boom")
	stopped, err := runUntil(t.Context(), zerolog.Nop(), postest.Guard, func(context.Context) error { return boom })
	if stopped || !errors.Is(err, boom) {
		t.Fatalf("runUntil = (%v, %v), want (false, boom)", stopped, err)
	}
}

func TestRunUntilCancelsRunWhenStopped(t *testing.T) {
	stop, cancel := context.WithCancel(t.Context())
	started := make(chan struct{})
	go func() {
		<-started
		cancel()
	}()
	stopped, err := runUntil(stop, zerolog.Nop(), postest.Guard, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return nil
	})
	if !stopped || err != nil {
		t.Fatalf("runUntil = (%v, %v), want (true, nil)", stopped, err)
	}
}

func TestRunUntilGivesUpOnAnAgentThatDoesNotStop(t *testing.T) {
	stop, cancel := context.WithCancel(t.Context())
	cancel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	stopped, err := runUntil(stop, zerolog.Nop(), time.Millisecond, func(context.Context) error {
		<-release // ignores its context
		return nil
	})
	if !stopped || !errors.Is(err, ErrStopTimeout) {
		t.Fatalf("runUntil = (%v, %v), want (true, ErrStopTimeout)", stopped, err)
	}
}

func TestRunStopsTheAgentWhenItsContextIsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{})
	go func() {
		<-started
		cancel()
	}()
	ended := make(chan error, 1)
	err := Run(ctx, Name, zerolog.Nop(), func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		ended <- ctx.Err()
		return nil
	})
	if err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	select {
	case e := <-ended:
		if !errors.Is(e, context.Canceled) {
			t.Fatalf("agent context ended with %v, want context.Canceled", e)
		}
	default:
		t.Fatal("Run returned before the agent did")
	}
}
