// Package webhook is the webhook source: it turns HTTP requests into
// CloudEvents on a broker, as Argo Events' webhook EventSource does, as a
// scale-to-zero function. Each request is handled on its own (Argo pushes
// every request of an endpoint through one channel, one at a time), and the
// caller hears 200 only once the broker has accepted the event. A body is
// bounded by its server (internal/httpbound, through sdk.ServeHTTP): one
// that trickles is answered 408 after the grace time, without holding
// anything another request needs.
package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/expression"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

// EventType is the type of the events a webhook makes: the source kind,
// as in Argo.
const EventType = "webhook"

// Options are what a webhook needs from its surroundings.
type Options struct {
	// Send delivers an event to the broker and returns once it is accepted.
	Send func(ctx context.Context, e event.Event) error
	// Secrets resolves authSecret.
	Secrets secrets.Resolver
	// Offload is where event data above the offload threshold goes
	// before the event is sent, so that a body up to maxPayloadSize
	// (which may be raised far above the broker's 1 MiB) travels as a
	// reference (DESIGN §11). Nil reads the environment
	// (sdk.EventOffloadFromEnv: $ZEROFLOW_ARTIFACTS).
	Offload *sdk.EventOffload
	Logger  *slog.Logger
}

// Webhook serves the webhook events of one EventSource.
type Webhook struct {
	source *v1alpha1.EventSource
	opts   Options
	// routes by port, then endpoint, then method.
	routes map[string]map[string]map[string]*route
}

// route is one webhook event.
type route struct {
	name   string
	spec   v1alpha1.WebhookEventSource
	filter *vm.Program
	// mask hides the sensitive headers in the route's events.
	mask secrets.HeaderMask
}

// New prepares the webhook events of es. es must have passed validation;
// a filter that does not compile is still an error here. Call Check before
// serving, so that a missing or empty authSecret stops the start.
func New(es *v1alpha1.EventSource, opts Options) (*Webhook, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Secrets == nil {
		opts.Secrets = secrets.Local{}
	}
	if opts.Offload == nil {
		o, err := sdk.EventOffloadFromEnv()
		if err != nil {
			return nil, fmt.Errorf("eventsource %s: %w", es.Name, err)
		}
		opts.Offload = &o
	}
	w := &Webhook{source: es, opts: opts, routes: map[string]map[string]map[string]*route{}}
	for name, spec := range es.Spec.Webhook {
		r := &route{name: name, spec: spec}
		r.mask = secrets.NewHeaderMask(authHeaders(r)...)
		if spec.Filter != nil && spec.Filter.Expression != "" {
			// The filter is the author's, the data the caller's: it runs
			// within the expression budget (internal/expression).
			p, err := expression.Compile(spec.Filter.Expression, nil, expr.AsBool(), expr.AllowUndefinedVariables())
			if err != nil {
				return nil, fmt.Errorf("eventsource %s: webhook %s: filter: %w", es.Name, name, err)
			}
			r.filter = p
		}
		byEndpoint := w.routes[spec.Port]
		if byEndpoint == nil {
			byEndpoint = map[string]map[string]*route{}
			w.routes[spec.Port] = byEndpoint
		}
		if byEndpoint[spec.Endpoint] == nil {
			byEndpoint[spec.Endpoint] = map[string]*route{}
		}
		byEndpoint[spec.Endpoint][spec.Method] = r
	}
	return w, nil
}

// Handler serves every event of the EventSource on one port, as a Knative
// Service does.
func (w *Webhook) Handler() http.Handler {
	all := map[string]map[string]*route{}
	for _, byEndpoint := range w.routes {
		for endpoint, byMethod := range byEndpoint {
			if all[endpoint] == nil {
				all[endpoint] = map[string]*route{}
			}
			for m, r := range byMethod {
				all[endpoint][m] = r
			}
		}
	}
	return w.handler(all)
}

// PortHandlers returns a handler for each declared port, serving the
// events declared on it, as `zeroflow dev` listens.
func (w *Webhook) PortHandlers() map[string]http.Handler {
	out := make(map[string]http.Handler, len(w.routes))
	for port, byEndpoint := range w.routes {
		out[port] = w.handler(byEndpoint)
	}
	return out
}

func (w *Webhook) handler(routes map[string]map[string]*route) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			respond(rw, http.StatusOK, "OK")
			return
		}
		byMethod, ok := routes[r.URL.Path]
		if !ok {
			respond(rw, http.StatusNotFound, fmt.Sprintf("no webhook at %s", r.URL.Path))
			return
		}
		rt, ok := byMethod[r.Method]
		if !ok {
			methods := make([]string, 0, len(byMethod))
			for m := range byMethod {
				methods = append(methods, m)
			}
			sort.Strings(methods)
			rw.Header().Set("Allow", strings.Join(methods, ", "))
			respond(rw, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed at %s: use %s", r.Method, r.URL.Path, strings.Join(methods, " or ")))
			return
		}
		w.serve(rw, r, rt)
	})
}

// serve handles one request for one webhook event.
func (w *Webhook) serve(rw http.ResponseWriter, r *http.Request, rt *route) {
	ctx := r.Context()
	if code, msg := w.authorize(ctx, r, rt); code != 0 {
		respond(rw, code, msg)
		return
	}
	ev, keep, code, msg := w.toEvent(r, rt)
	if code != 0 {
		respond(rw, code, msg)
		return
	}
	if !keep {
		// Argo answers success for a filtered-out request, so that a sender
		// does not retry what it cannot change.
		respond(rw, http.StatusOK, "success")
		return
	}
	ev.SetExtension(events.ExtEventSource, w.source.Name)
	ev.SetExtension(events.ExtEvent, rt.name)
	// The event goes to the broker of the EventSource's namespace, whose
	// receivers read offloaded data as that namespace's.
	if err := sdk.OffloadEvent(ctx, *w.opts.Offload, w.namespace(), &ev); err != nil {
		if errors.Is(err, sdk.ErrTooLargeToOffload) {
			respond(rw, http.StatusRequestEntityTooLarge, "the event was not recorded: "+err.Error())
			return
		}
		if errors.Is(err, sdk.ErrNoOffloadStore) {
			// The webhook is configured to take bodies it cannot send:
			// no retry of the caller's helps, the operator must act.
			// 413, not 500: the body is too large for this webhook as it
			// is deployed, and a sender's retry meets the same answer.
			w.opts.Logger.Error("webhook event too large to send without an artifact store", "eventsource", w.source.Name, "event", rt.name, "id", ev.ID(), "error", err)
			respond(rw, http.StatusRequestEntityTooLarge, "the event was not recorded: "+err.Error())
			return
		}
		w.opts.Logger.Warn("webhook event data not stored", "eventsource", w.source.Name, "event", rt.name, "id", ev.ID(), "error", err)
		rw.Header().Set("Retry-After", "1")
		respond(rw, http.StatusServiceUnavailable, "the event's data could not be stored; nothing was recorded, retry: "+err.Error())
		return
	}
	if err := w.opts.Send(ctx, ev); err != nil {
		w.opts.Logger.Warn("webhook event not accepted by the broker", "eventsource", w.source.Name, "event", rt.name, "id", ev.ID(), "error", err)
		if code, ok := brokerRefusal(err); ok {
			// Refused for good (the event too large, malformed): the
			// sender's retry would meet the same refusal.
			respond(rw, code, "the broker refused the event; nothing was recorded: "+err.Error())
			return
		}
		rw.Header().Set("Retry-After", "1")
		respond(rw, http.StatusServiceUnavailable, "the event was not accepted by the broker; nothing was recorded, retry: "+err.Error())
		return
	}
	respond(rw, http.StatusOK, "success")
}

// brokerRefusal is the answer to a sender whose event the broker refused
// for good: 413 for a 413, 400 for any other 4xx but 408 and 429, which
// a retry may get past (those, and 5xx, are 503 with Retry-After).
func brokerRefusal(err error) (int, bool) {
	var se *sdk.SendError
	if !errors.As(err, &se) || !sdk.IsPermanentStatus(&sdk.StatusError{Code: se.Code}) {
		return 0, false
	}
	if se.Code == http.StatusRequestEntityTooLarge {
		return http.StatusRequestEntityTooLarge, true
	}
	return http.StatusBadRequest, true
}

// namespace is the EventSource's, "default" when it names none (as the
// API server defaults it).
func (w *Webhook) namespace() string {
	if w.source.Namespace == "" {
		return "default"
	}
	return w.source.Namespace
}

func respond(rw http.ResponseWriter, code int, msg string) {
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.WriteHeader(code)
	_, _ = rw.Write([]byte(msg))
}

// newID is Argo's event id: 32 hex characters.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
