package broker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/cloudevents/sdk-go/v2/types"
	knbroker "knative.dev/eventing/pkg/broker"
	"knative.dev/eventing/pkg/utils"
)

// defaultTTL is the loop guard given to an event that enters without one,
// as Knative's MT broker does.
const defaultTTL = 255

// ingress serves POST /{namespace}/{broker}: the Knative Broker ingress
// contract. It answers 202 only once the event is stored.
type ingress struct {
	b *Broker
}

func (h ingress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
		// Not a broker path (those have two segments).
		h.b.HealthHandler().ServeHTTP(w, r)
		return
	}
	w.Header().Set("Allow", "POST, OPTIONS")
	if r.Method == http.MethodOptions {
		// CloudEvents webhook abuse protection (the HTTP webhook spec).
		w.Header().Set("WebHook-Allowed-Origin", "*")
		w.Header().Set("WebHook-Allowed-Rate", "*")
		w.WriteHeader(http.StatusOK)
		return
	}
	namespace, name, ok := brokerPath(r.URL.Path)
	if r.Method != http.MethodPost {
		h.reject(w, nil, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed: POST a CloudEvent", r.Method))
		return
	}
	switch {
	case r.URL.Path == "/":
		h.reject(w, nil, http.StatusNotFound, "no broker at /: post to /<namespace>/<broker>")
		return
	case !ok:
		// As Knative's ingress: a path that is not /<namespace>/<broker> is a bad request.
		h.reject(w, nil, http.StatusBadRequest, fmt.Sprintf("malformed path %q: post to /<namespace>/<broker>", r.URL.Path))
		return
	}
	br, found := h.b.lookupBroker(namespace, name)
	if !found {
		h.reject(w, nil, http.StatusNotFound, fmt.Sprintf("broker %s/%s does not exist", namespace, name))
		return
	}
	reject := func(code int, reason string) { h.reject(w, br, code, reason) }
	var sender string
	if h.b.opts.Identity != nil {
		// Before the body is read, as Knative's ingress does.
		sub, code, reason := h.b.authenticate(r.Context(), br, r.Header)
		if code != 0 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+br.audience+`"`)
			reject(code, reason)
			return
		}
		sender = sub
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.b.opts.MaxEventBytes)
	msg := cehttp.NewMessageFromHttpRequest(r)
	defer msg.Finish(nil)
	ev, err := binding.ToEvent(r.Context(), msg)
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			reject(http.StatusRequestEntityTooLarge, fmt.Sprintf("event larger than %d bytes", h.b.opts.MaxEventBytes))
		case errors.Is(err, binding.ErrUnknownEncoding):
			reject(http.StatusBadRequest, "not a CloudEvent: send ce-* headers (binary mode) or Content-Type application/cloudevents+json (structured mode)")
		default:
			reject(http.StatusBadRequest, "invalid CloudEvent: "+err.Error())
		}
		return
	}
	if err := ev.Validate(); err != nil {
		reject(http.StatusBadRequest, "invalid CloudEvent: "+strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	if err := h.b.authorize(r.Context(), br, sender, ev); err != nil {
		reject(http.StatusForbidden, err.Error())
		return
	}
	status, reason := h.b.accept(r.Context(), br, *ev, utils.PassThroughHeaders(r.Header))
	if status == http.StatusServiceUnavailable {
		// The supervisor looks again within a second (healInterval).
		w.Header().Set("Retry-After", "1")
	}
	if status != http.StatusAccepted {
		reject(status, reason)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// reject answers an error. Only declared brokers get their own metric
// label: the path is the client's, and label values from it would be
// unbounded (and may not even be UTF-8, which Prometheus refuses).
func (h ingress) reject(w http.ResponseWriter, br *brokerState, code int, reason string) {
	label := "unknown"
	if br != nil {
		label = br.key
	}
	h.b.metrics.rejected.WithLabelValues(label, strconv.Itoa(code)).Inc()
	http.Error(w, reason, code)
}

// brokerPath splits "/ns/name" (a trailing slash allowed).
func brokerPath(p string) (namespace, name string, ok bool) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// accept stamps, guards and stores an event for a broker; it is the ingress
// for HTTP requests and for replies alike. header holds the request headers
// Knative passes through to subscribers (Knative-*, X-Request-Id, X-B3-*,
// Traceparent …). It returns the HTTP status the ingress answers and, when
// it is not 202, why.
//
// accept changes ev's attributes: callers pass an event they own.
func (b *Broker) accept(ctx context.Context, br *brokerState, ev event.Event, header http.Header) (int, string) {
	ev.SetExtension(knbroker.EventArrivalTime, types.Timestamp{Time: time.Now().UTC()})
	ttl := int32(defaultTTL)
	if current, err := knbroker.GetTTL(ev.Context); err == nil {
		ttl = current - 1
	}
	if ttl <= 0 {
		return http.StatusBadRequest, fmt.Sprintf("event %s dropped: its %s reached 0 (a reply loop?)", ev.ID(), knbroker.TTLAttribute)
	}
	if err := knbroker.SetTTL(ev.Context, ttl); err != nil {
		return http.StatusBadRequest, "set " + knbroker.TTLAttribute + ": " + err.Error()
	}
	if err := checkExtensionNames(ev); err != nil {
		return http.StatusBadRequest, err.Error()
	}
	nh, data, err := encodeEvent(ctx, &ev, header)
	if err != nil {
		return http.StatusBadRequest, err.Error()
	}
	nh.Set(msgIDHeader, eventMsgID(ev.Source(), ev.ID()))
	if err := b.unhealthy(); err != nil {
		// Known broken: answered at once, not after publishTimeout.
		return http.StatusServiceUnavailable, "the event store is unavailable (" + err.Error() + "); nothing was stored, retry"
	}
	if err := b.store.publish(ctx, br.subject, data, nh); err != nil {
		b.logger.Warn("store event", "broker", br.key, "id", ev.ID(), "error", err)
		b.heal.publishFailed(err)
		return http.StatusServiceUnavailable, "the event store is unavailable (" + err.Error() + "); nothing was stored, retry"
	}
	b.metrics.accepted.WithLabelValues(br.key).Inc()
	return http.StatusAccepted, ""
}

// checkExtensionNames refuses an event whose extension names or values
// cannot be stored as the Ce-* headers of a binary-mode request. The SDK
// checks names only for CloudEvents 1.0; a 0.3 event with a space in a
// name passed its validation, failed in the store and was answered 503,
// which a sender retries forever (found by FuzzIngress). It is the
// sender's error, so 400.
func checkExtensionNames(ev event.Event) error {
	for name, v := range ev.Extensions() {
		if name == "" || strings.IndexFunc(name, func(r rune) bool {
			return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
		}) >= 0 {
			return fmt.Errorf("invalid CloudEvent: extension name %q: CloudEvents attribute names consist of ASCII letters and digits", name)
		}
		if s, err := types.ToString(v); err == nil && !httpguts.ValidHeaderFieldValue(s) {
			return fmt.Errorf("invalid CloudEvent: extension %s: the value has a control character", name)
		}
	}
	return nil
}
