// Package deadletter is the built-in function a Broker's deadLetterSink
// points at: every event that ran out of delivery retries is stored whole
// (attributes, the knativeerror* extensions Knative adds, and data) in the
// artifact store under dead-letter/, where it can be read and sent again.
// Accepted events are never lost, even when their subscriber is broken.
package deadletter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// Key is where a dead event is stored: by the subscriber it failed to
// reach (Knative's knativeerrordest) and its id, so that the same event
// dead-lettered twice is stored once.
func Key(ev event.Event) string {
	dest := "unknown"
	if v, ok := ev.Extensions()["knativeerrordest"]; ok {
		if u, err := url.Parse(fmt.Sprint(v)); err == nil && u.Host != "" {
			dest = u.Host
		}
	}
	return "dead-letter/" + safe(dest) + "/" + safe(ev.Source()) + "/" + safe(ev.ID()) + ".json"
}

// safe keeps a key segment within one path element.
func safe(s string) string {
	s = strings.NewReplacer("/", "_", "..", "_", "\\", "_").Replace(s)
	if s == "" {
		return "_"
	}
	return s
}

// New returns the dead-letter function, storing into store.
func New(store sdk.ArtifactStore) sdk.Handler {
	return sdk.HandlerFunc(func(ctx context.Context, ev event.Event) (*event.Event, error) {
		if err := ev.Validate(); err != nil {
			return nil, sdk.Status(http.StatusBadRequest, fmt.Errorf("dead letter: invalid CloudEvent: %w", err))
		}
		b, err := json.MarshalIndent(ev, "", "  ")
		if err != nil {
			return nil, sdk.Status(http.StatusBadRequest, fmt.Errorf("dead letter %s: encode: %w", ev.ID(), err))
		}
		key := Key(ev)
		if err := store.Put(ctx, key, bytes.NewReader(append(b, '\n'))); err != nil {
			// The broker keeps the event and tries again.
			return nil, fmt.Errorf("dead letter %s: %w", ev.ID(), err)
		}
		sdk.Logger(ctx).Warn("event dead-lettered", "id", ev.ID(), "type", ev.Type(), "source", ev.Source(), "key", key,
			"code", ev.Extensions()["knativeerrorcode"], "dest", ev.Extensions()["knativeerrordest"])
		return nil, nil
	})
}
