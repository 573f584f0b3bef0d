package webhook

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
)

// maskedAuth replaces the Authorization header in events, as Argo does.
const maskedAuth = "*** Masked Auth Secret ***"

// authorize checks the bearer token of a route with an authSecret. It
// returns 0 when the request may go on, else the status and message.
func (w *Webhook) authorize(ctx context.Context, r *http.Request, rt *route) (int, string) {
	if rt.spec.AuthSecret == nil {
		return 0, ""
	}
	// Read on every request, so that a rotated secret takes effect at once.
	token, err := w.opts.Secrets.Get(ctx, w.source.Namespace, *rt.spec.AuthSecret)
	if err != nil {
		w.opts.Logger.Error("webhook auth secret", "eventsource", w.source.Name, "event", rt.name, "error", err)
		return http.StatusInternalServerError, "Error loading auth token"
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return http.StatusUnauthorized, "Invalid Authorization Header"
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
		return http.StatusUnauthorized, "Invalid Auth token"
	}
	return 0, ""
}
