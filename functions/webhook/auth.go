package webhook

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

// authHeaders are the request headers a route's auth settings read, masked
// in its events beside the default sensitive ones.
func authHeaders(rt *route) []string {
	if rt.spec.AuthSecret != nil {
		return []string{"Authorization"}
	}
	return nil
}

// Check resolves every authSecret, so that a webhook whose secret is
// missing, empty or only white space refuses to start instead of serving
// a door that an empty token opens. Call it before serving.
func (w *Webhook) Check(ctx context.Context) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(w.source.Spec.Webhook)) {
		if w.source.Spec.Webhook[name].AuthSecret == nil {
			continue
		}
		ref := *w.source.Spec.Webhook[name].AuthSecret
		if _, err := secrets.NonEmpty(ctx, w.opts.Secrets, w.source.Namespace, ref); err != nil {
			errs = append(errs, fmt.Errorf("eventsource %s/%s: webhook %s: authSecret: %w", w.source.Namespace, w.source.Name, name, err))
		}
	}
	return errors.Join(errs...)
}

// authorize checks the bearer token of a route with an authSecret. It
// returns 0 when the request may go on, else the status and message.
func (w *Webhook) authorize(ctx context.Context, r *http.Request, rt *route) (int, string) {
	if rt.spec.AuthSecret == nil {
		return 0, ""
	}
	// Read on every request, so that a rotated secret takes effect at once;
	// a secret emptied since the start fails closed here too.
	token, err := secrets.NonEmpty(ctx, w.opts.Secrets, w.source.Namespace, *rt.spec.AuthSecret)
	if err != nil {
		w.opts.Logger.Error("webhook auth secret", "eventsource", w.source.Name, "event", rt.name, "error", err)
		return http.StatusInternalServerError, "Error loading auth token"
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || got == "" {
		return http.StatusUnauthorized, "Invalid Authorization Header"
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
		return http.StatusUnauthorized, "Invalid Auth token"
	}
	return 0, ""
}
