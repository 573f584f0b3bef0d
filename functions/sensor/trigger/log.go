package trigger

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// logRunner logs the events that fired the trigger, for debugging.
type logRunner struct {
	name     string
	interval time.Duration
	env      *Env

	mu   sync.Mutex
	last time.Time
}

func newLog(tt *v1alpha1.TriggerTemplate, env *Env) Runner {
	return &logRunner{name: tt.Name, interval: time.Duration(tt.Log.IntervalSeconds) * time.Second, env: env}
}

// maxLoggedData bounds what one event contributes to a log line.
const maxLoggedData = 4 << 10

func (r *logRunner) Run(ctx context.Context, f Firing) error {
	if r.interval > 0 {
		r.mu.Lock()
		now := time.Now()
		if !r.last.IsZero() && now.Sub(r.last) < r.interval {
			r.mu.Unlock()
			return nil
		}
		r.last = now
		r.mu.Unlock()
	}
	attrs := []any{"trigger", r.name}
	for _, dep := range f.Dependencies() {
		ev := f.Events[dep]
		data := ev.Data()
		if len(data) > maxLoggedData {
			data = data[:maxLoggedData]
		}
		attrs = append(attrs, slog.Group(dep,
			"id", ev.ID(), "source", ev.Source(), "type", ev.Type(), "subject", ev.Subject(),
			"time", ev.Time(), "data", string(data)))
	}
	r.env.Logger.InfoContext(ctx, "log trigger", attrs...)
	return nil
}
