package sdk

import (
	"context"
	"log/slog"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/internal/identity"
)

// Invoke hands one event to h outside Serve, as a pod that gets its event
// from a file does (a JobSink's Job): h sees sender and logger through
// SenderFrom and Logger exactly as under Serve, so a step sends its
// heartbeats through sender while it runs. It returns what h replies; the
// caller sends it, since no broker waits for a reply.
func Invoke(ctx context.Context, h Handler, ev event.Event, sender *Sender, logger *slog.Logger) (*event.Event, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if sender == nil {
		sender = newSender("")
	}
	ctx = withRuntime(ctx, &runtime{sender: sender, logger: logger.With("eventID", ev.ID(), "eventType", ev.Type())})
	return h.Handle(ctx, ev)
}

// NewSenderFromEnv is the sender a function outside Serve posts with, set
// up as Serve sets up its own: to sink ("" is $K_SINK), with the broker
// token of $ZEROFLOW_TOKEN_FILE, and offloading data above the threshold
// to the store the environment names.
func NewSenderFromEnv(sink string) (*Sender, error) {
	offload, err := EventOffloadFromEnv()
	if err != nil {
		return nil, err
	}
	s := newSender(sink)
	return s.WithToken(identity.TokenFromEnv()).WithOffload(offload, ""), nil
}
