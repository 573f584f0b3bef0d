package trigger

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

// logRunner logs the events that fired the trigger, for debugging.
type logRunner struct {
	name     string
	interval time.Duration
	env      *Env
	// mask hides sensitive header values: logs are read by more people,
	// and kept longer, than the events, so a credential a caller sent
	// must not reach them.
	mask secrets.HeaderMask

	mu   sync.Mutex
	last time.Time
}

func newLog(tt *v1alpha1.TriggerTemplate, env *Env) Runner {
	return &logRunner{name: tt.Name, interval: time.Duration(tt.Log.IntervalSeconds) * time.Second, env: env, mask: secrets.NewHeaderMask()}
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
		// Masked before it is cut: a cut JSON object no longer parses,
		// and its headers would be logged as they came.
		data, _, err := r.mask.DataJSON(ev.Data())
		logged := []any{"id", ev.ID(), "source", ev.Source(), "type", ev.Type(), "subject", ev.Subject(), "time", ev.Time()}
		if err != nil {
			// Not knowing what is in it, log none of it.
			logged = append(logged, "dataError", err.Error())
		} else {
			if len(data) > maxLoggedData {
				data = data[:maxLoggedData]
			}
			logged = append(logged, "data", string(data))
		}
		attrs = append(attrs, slog.Group(dep, logged...))
	}
	r.env.Logger.InfoContext(ctx, "log trigger", attrs...)
	return nil
}
