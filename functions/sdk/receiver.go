package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/cloudevents/sdk-go/v2/types"
	"golang.org/x/net/http/httpguts"

	"github.com/zeroflow-dev/zeroflow/internal/identity"
)

// receiver adapts a Handler to CloudEvents over HTTP, as a Knative
// subscriber: the reply, if any, is written back in binary mode with 200;
// no reply is 202; an error is its status (500 by default, so the broker
// retries; 422 for a sink's permanent refusal, see answerStatus).
type receiver struct {
	h       Handler
	sender  *Sender
	logger  *slog.Logger
	maxBody int64
	auth    *identity.Authenticator
	// offload resolves the data of received events that carry it by
	// reference, and offloads a large reply.
	offload EventOffload
	// namespace is the function's own (Options.Namespace, else its
	// sink's): the namespace of offloaded data when the request does not
	// say which namespace it was delivered in.
	namespace string
}

// knNamespaceHeader is the header in which Knative's broker (and the
// embedded one) names the namespace of the Trigger that delivers.
const knNamespaceHeader = "Kn-Namespace"

// deliveryNamespace is the namespace an event was delivered in, which is
// the namespace its offloaded data belongs to and its reply's goes to:
// the verified caller's (a Trigger's identity is a ServiceAccount of the
// Trigger's namespace), else what the broker says (Kn-Namespace; without
// sender identity any header can be forged, as any event can), else the
// function's own.
func (rc receiver) deliveryNamespace(ctx context.Context, r *http.Request) string {
	if c, ok := CallerFrom(ctx); ok {
		// A verified caller that is not a ServiceAccount (a user's
		// token) does not get to name a namespace in a header.
		if ns := c.Namespace(); ns != "" {
			return ns
		}
		return rc.namespace
	}
	if ns := r.Header.Get(knNamespaceHeader); ns != "" {
		return ns
	}
	return rc.namespace
}

func (rc receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST a CloudEvent", http.StatusMethodNotAllowed)
		return
	}
	ctx := r.Context()
	if rc.auth != nil {
		// Before the body is read: an unauthenticated sender costs no more
		// than a signature check.
		sub, code, err := rc.auth.Authenticate(ctx, r.Header)
		if err != nil {
			rc.logger.Info("request refused", "code", code, "subject", sub, "reason", err)
			if code == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="`+rc.auth.Audience+`"`)
			}
			http.Error(w, err.Error(), code)
			return
		}
		ctx = WithCaller(ctx, Caller{Subject: sub})
	}
	r.Body = http.MaxBytesReader(w, r.Body, rc.maxBody)
	msg := cehttp.NewMessageFromHttpRequest(r)
	defer msg.Finish(nil)
	ev, err := binding.ToEvent(r.Context(), msg)
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			http.Error(w, "event too large", http.StatusRequestEntityTooLarge)
		case errors.Is(err, binding.ErrUnknownEncoding):
			http.Error(w, "not a CloudEvent", http.StatusBadRequest)
		default:
			http.Error(w, "invalid CloudEvent: "+err.Error(), http.StatusBadRequest)
		}
		return
	}
	if err := ev.Validate(); err != nil {
		http.Error(w, "invalid CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := CheckExtensions(*ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	namespace := rc.deliveryNamespace(ctx, r)
	// The handler sees the event as it was sent, its data in place.
	resolved, err := ResolveEvent(ctx, rc.offload, namespace, ev)
	if err != nil {
		code := statusOf(err)
		rc.logger.Warn("offloaded event data not loaded", "eventID", ev.ID(), "code", code, "error", err)
		http.Error(w, err.Error(), code)
		return
	}
	ctx = withRuntime(ctx, &runtime{sender: rc.sender, logger: rc.logger.With("eventID", ev.ID(), "eventType", ev.Type()), path: r.URL.Path})
	reply, err := rc.h.Handle(ctx, *ev)
	if err != nil {
		code := answerStatus(err)
		rc.logger.Warn("handler failed", "eventID", ev.ID(), "code", code, "error", err)
		http.Error(w, err.Error(), code)
		return
	}
	if reply == nil {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if err := reply.Validate(); err != nil {
		rc.logger.Error("handler returned an invalid reply", "eventID", ev.ID(), "error", err)
		http.Error(w, "the function returned an invalid reply: "+err.Error(), http.StatusInternalServerError)
		return
	}
	// The reply goes back into the broker that delivered: offload its
	// data as that namespace's. Data the event came with is not stored
	// again.
	if _, err := offloadEvent(ctx, rc.offload, namespace, reply, resolved); err != nil {
		code := http.StatusServiceUnavailable
		if errors.Is(err, ErrNoOffloadStore) || errors.Is(err, ErrTooLargeToOffload) {
			// No retry can make it fit: the broker dead-letters it.
			code = http.StatusRequestEntityTooLarge
		}
		rc.logger.Error("reply not offloaded", "eventID", ev.ID(), "code", code, "error", err)
		http.Error(w, "the function's reply: "+err.Error(), code)
		return
	}
	if err := cehttp.WriteResponseWriter(ctx, binding.ToMessage(reply), http.StatusOK, w); err != nil {
		rc.logger.Error("write reply", "eventID", ev.ID(), "error", err)
	}
}

// CheckExtensions refuses what the SDK's validation lets through: for
// CloudEvents 0.3 (it checks names only for 1.0) an extension whose name is
// not ASCII letters and digits, and in any version a value with a control
// character, which cannot be a header. The broker refuses such an event
// with 400, and a binary-mode send of it fails before any request; so
// whatever takes events from outside (a function, the webhook) refuses it
// with 400 at once rather than failing on every delivery or retry.
func CheckExtensions(ev event.Event) error {
	for name, v := range ev.Extensions() {
		if name == "" || strings.IndexFunc(name, func(r rune) bool {
			return ('a' > r || r > 'z') && ('A' > r || r > 'Z') && ('0' > r || r > '9')
		}) >= 0 {
			return fmt.Errorf("invalid CloudEvent: extension name %q: CloudEvents attribute names consist of ASCII letters and digits", name)
		}
		// The broker's test, byte for byte (net/http's too).
		if s, err := types.ToString(v); err == nil && !httpguts.ValidHeaderFieldValue(s) {
			return fmt.Errorf("invalid CloudEvent: extension %s: the value has a control character", name)
		}
	}
	return nil
}

// answerStatus is the status a handler's error is answered with: the one
// it carries (Status); else 422 when it carries a sink's refusal that no
// redelivery can change (a 4xx other than 408 and 429, see
// IsPermanentStatus), so that the broker does not deliver the event again
// only to meet the same refusal; else 500, which the broker retries. 422
// and not the sink's own code: a 401 or 404 of the sink passed on would
// read as the function refusing the broker's identity or path.
func answerStatus(err error) int {
	var se *StatusError
	var send *SendError
	if !errors.As(err, &se) && errors.As(err, &send) && IsPermanentStatus(&StatusError{Code: send.Code}) {
		return http.StatusUnprocessableEntity
	}
	return statusOf(err)
}

// runtime is what a function sees of its surroundings.
type runtime struct {
	sender *Sender
	logger *slog.Logger
	// path is the request's URL path: one function can serve several
	// subscriptions, each with its own path in its Trigger's subscriber.
	path string
	// capture, in a step, receives raw output lines (LogWriter).
	capture *logCapture
}

type runtimeKey struct{}

func withRuntime(ctx context.Context, rt *runtime) context.Context {
	return context.WithValue(ctx, runtimeKey{}, rt)
}

func runtimeFrom(ctx context.Context) *runtime {
	if rt, ok := ctx.Value(runtimeKey{}).(*runtime); ok {
		return rt
	}
	return &runtime{sender: newSender(""), logger: slog.Default()}
}

// SenderFrom returns the sender to $K_SINK of the function serving ctx.
func SenderFrom(ctx context.Context) *Sender { return runtimeFrom(ctx).sender }

// RequestPath returns the URL path the event was delivered to.
func RequestPath(ctx context.Context) string { return runtimeFrom(ctx).path }

// Logger returns the logger of the event being handled. In a step, what is
// logged through it is also captured into the step's result.
func Logger(ctx context.Context) *slog.Logger { return runtimeFrom(ctx).logger }
