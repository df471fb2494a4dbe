package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// signalError is the cancellation cause of a run stopped by a signal. Its
// exit code follows the shell convention 128+N (130 for SIGINT, 143 for
// SIGTERM), so cron wrappers can tell an interruption from a failure.
type signalError struct{ sig os.Signal }

func (e *signalError) Error() string {
	name := e.sig.String()
	switch e.sig {
	case syscall.SIGINT:
		name = "SIGINT"
	case syscall.SIGTERM:
		name = "SIGTERM"
	}
	return fmt.Sprintf("interrupted by %s; no report written", name)
}

func (e *signalError) exitCode() int {
	if s, ok := e.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitRuntime
}

// signalContext returns a context cancelled, with a *signalError cause,
// at the first SIGINT or SIGTERM. signal.NotifyContext cannot say which
// signal arrived, and the exit code depends on it. After the first signal
// the default action is restored, so a second Ctrl-C kills at once.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			cancel(&signalError{sig: sig})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// interruption returns the signal that cancelled ctx, if any.
func interruption(ctx context.Context) *signalError {
	var se *signalError
	if errors.As(context.Cause(ctx), &se) {
		return se
	}
	return nil
}
