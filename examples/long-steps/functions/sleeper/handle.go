package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// maxSleep bounds the "seconds" parameter.
const maxSleep = 24 * time.Hour

// Handle sleeps for the "seconds" parameter and reports how long it slept.
// With a "journal" parameter (a file path) it appends a line there when it
// starts, ends or is cancelled, with its process id, so that a test can
// count the copies that ran and kill one.
func Handle(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	seconds, err := strconv.ParseFloat(in.Param("seconds"), 64)
	if err != nil || seconds < 0 || time.Duration(seconds*float64(time.Second)) > maxSleep {
		return sdk.StepOutput{}, fmt.Errorf("parameter seconds: %q is not a number of seconds from 0 to %s", in.Param("seconds"), maxSleep)
	}
	journal := in.Param("journal")
	note := func(what string) error {
		if journal == "" {
			return nil
		}
		f, err := os.OpenFile(journal, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("journal %s: %w", journal, err)
		}
		defer f.Close()
		if _, err := fmt.Fprintf(f, "%s %s %s %d %d\n", what, in.Workflow, in.NodeID, in.Attempt, os.Getpid()); err != nil {
			return fmt.Errorf("journal %s: %w", journal, err)
		}
		return nil
	}
	if err := note("start"); err != nil {
		return sdk.StepOutput{}, err
	}
	start := time.Now()
	sdk.Logger(ctx).Info("sleeping", "seconds", seconds)
	select {
	case <-time.After(time.Duration(seconds * float64(time.Second))):
	case <-ctx.Done():
		_ = note("cancelled")
		return sdk.StepOutput{}, fmt.Errorf("stopped after %s: %w", time.Since(start).Round(time.Millisecond), context.Cause(ctx))
	}
	if err := note("end"); err != nil {
		return sdk.StepOutput{}, err
	}
	slept := time.Since(start).Round(time.Second).String()
	return sdk.StepOutput{Result: &slept}, nil
}
