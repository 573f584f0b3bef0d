package sensor

import (
	"context"
	"fmt"
	"time"

	"github.com/zeroflow-dev/zeroflow/functions/sensor/trigger"
)

// fire runs a trigger with its retry strategy and rate limit and, when it
// fails for good, its dlqTrigger. A failure the dlqTrigger took care of is
// not an error.
func (s *Sensor) fire(ctx context.Context, t *compiledTrigger, f trigger.Firing) error {
	err := s.attempt(ctx, t, f)
	if err == nil || t.dlq == nil {
		return err
	}
	s.log.WarnContext(ctx, "trigger failed; running its dlqTrigger", "trigger", t.name, "error", err)
	if dlqErr := s.attempt(ctx, t.dlq, f); dlqErr != nil {
		if trigger.IsPermanent(err) && trigger.IsPermanent(dlqErr) {
			return trigger.Permanent(fmt.Errorf("%w; dlqTrigger: %w", err, dlqErr))
		}
		return fmt.Errorf("%w; dlqTrigger: %w", err, dlqErr)
	}
	return nil
}

// attempt runs a trigger until it succeeds, fails permanently, or its
// retry strategy runs out (one attempt without a strategy, as Argo).
func (s *Sensor) attempt(ctx context.Context, t *compiledTrigger, f trigger.Firing) error {
	runner, err := s.runner(t, f)
	if err != nil {
		return trigger.Permanent(err)
	}
	backoff := t.backoff
	attempts := max(backoff.Steps, 1)
	for i := 1; ; i++ {
		if t.limiter != nil {
			if err := t.limiter.Wait(ctx); err != nil {
				return fmt.Errorf("trigger %s: rate limit: %w", t.name, err)
			}
		}
		err = runner.Run(ctx, f)
		if err == nil || trigger.IsPermanent(err) || i >= attempts {
			return err
		}
		wait := backoff.Step()
		s.log.InfoContext(ctx, "trigger failed; retrying", "trigger", t.name, "attempt", i, "of", attempts, "in", wait, "error", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (retry cancelled: %w)", err, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// runner returns the trigger's runner; trigger-level parameters make a new
// one for each firing.
func (s *Sensor) runner(t *compiledTrigger, f trigger.Firing) (trigger.Runner, error) {
	if r, ok := s.runners[t.spec.Template]; ok {
		return r, nil
	}
	tt, err := trigger.Parameterized(t.spec.Template, t.spec.Parameters, f.Events)
	if err != nil {
		return nil, err
	}
	return trigger.New(tt, t.spec.Policy, s.env)
}
