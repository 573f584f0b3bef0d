package broker

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/nats-io/nats.go/jetstream"
	knbroker "knative.dev/eventing/pkg/broker"
	eventingtls "knative.dev/eventing/pkg/eventingtls"
	"knative.dev/eventing/pkg/kncloudevents"
	knattributes "knative.dev/eventing/pkg/kncloudevents/attributes"
	"knative.dev/eventing/pkg/utils"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// ackConfirmTimeout bounds the wait for the store to confirm an ack.
const ackConfirmTimeout = 5 * time.Second

// knNamespaceHeader tells a subscriber which namespace's trigger delivered,
// as Knative's broker filter does.
const knNamespaceHeader = "Kn-Namespace"

// newDispatcher returns Knative's dispatcher with its connection pool sized
// for perTarget deliveries in flight to one subscriber. Go's default keeps
// 2 idle connections per host, so a busy trigger would dial a new TCP
// connection for almost every event (measured: 11% of all CPU).
// kncloudevents keeps its clients in package state, so this applies to
// every dispatcher in the process.
func newDispatcher(perTarget int) *kncloudevents.Dispatcher {
	kncloudevents.ConfigureConnectionArgs(&kncloudevents.ConnectionArgs{
		MaxIdleConns:        4 * perTarget,
		MaxIdleConnsPerHost: perTarget,
	})
	return kncloudevents.NewDispatcher(eventingtls.ClientConfig{}, nil)
}

// attemptResult is the outcome of one HTTP attempt.
type attemptResult struct {
	ok     bool
	code   int
	header http.Header
	body   []byte
	reply  *event.Event
	err    error
}

// deliver runs one delivery attempt of an event for this trigger and
// decides what happens next. Retries are redeliveries scheduled in the store
// (NakWithDelay), so they survive a restart and never hold a worker.
func (w *triggerWorker) deliver(ctx context.Context, msg jetstream.Msg) {
	ev, err := decodeEvent(ctx, msg.Headers(), msg.Data())
	if err != nil {
		// Only the ingress writes the store, so this is corruption.
		w.b.logger.Error("undecodable stored event dropped", "trigger", w.plan.key, "error", err)
		_ = msg.Term()
		return
	}
	if !w.plan.filter.matches(ctx, ev) {
		w.ack(msg)
		return
	}
	meta, err := msg.Metadata()
	if err != nil {
		w.b.logger.Error("message metadata", "trigger", w.plan.key, "error", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if lateCopy(msg.Headers(), meta.Timestamp) {
		w.holdLateCopy(msg, meta, ev)
		return
	}
	attempt := int(meta.NumDelivered)
	allowed := 1 + w.retry.RetryMax
	if attempt > allowed {
		if p, ok := w.pendingDeadLetter(meta); ok {
			// The subscriber had all its attempts; the dead-letter send
			// failed last time and is due again.
			w.deadLetterTo(ctx, msg, meta, ev, p.res, p.failed)
			return
		}
		// The store counts every hand-out, also those that ended
		// without an attempt's outcome: a claim that ran out while the
		// store was down, an ack lost in a restart. The subscriber's last
		// failure is not known (there may have been none), so it gets one
		// more attempt, and a failure of that one is the dead letter's
		// reason: never a made-up one.
		attempt = allowed
	}

	ttl, ttlErr := knbroker.GetTTL(ev.Context)
	out := ev.Clone()
	_ = knbroker.DeleteTTL(out.Context)
	res := w.send(ctx, out, w.plan.subscriber, utils.PassThroughHeaders(http.Header(msg.Headers())))
	if res.ok {
		if res.reply != nil && !w.forwardReply(ctx, msg, meta, ev, res, ttl, ttlErr) {
			return
		}
		w.b.metrics.delivered.WithLabelValues(w.plan.key).Inc()
		if at, ok := arrival(ev); ok {
			w.b.metrics.latency.WithLabelValues(w.plan.key).Observe(time.Since(at).Seconds())
		}
		w.ack(msg)
		return
	}
	resp := &http.Response{StatusCode: res.code, Header: res.header}
	retryable, _ := kncloudevents.SelectiveRetry(ctx, resp, nil)
	if retryable && attempt < allowed {
		delay := w.retry.Backoff(attempt-1, resp)
		if ra := retryAfter(res, w.retry.RetryAfterMaxDuration); ra > delay {
			delay = ra
		}
		w.b.metrics.retried.WithLabelValues(w.plan.key).Inc()
		// Info, not Debug: a run of failures is what explains a late event.
		w.b.logger.Info("delivery failed; will retry", "trigger", w.plan.key, "id", ev.ID(), "attempt", attempt, "code", res.code, "error", res.err, "in", delay)
		if err := msg.NakWithDelay(delay); err != nil {
			w.b.logger.Warn("schedule retry", "trigger", w.plan.key, "id", ev.ID(), "error", err)
		}
		return
	}
	w.deadLetter(ctx, msg, meta, ev, res)
}

// send makes one attempt to the subscriber. A 2xx is a success; its body,
// when it holds a CloudEvent (binary mode may carry one with no body), is the
// reply. A 2xx with a body that is not a CloudEvent, or a reply that is not a
// valid one, is a failure, as in Knative's broker filter (which answers 502).
func (w *triggerWorker) send(ctx context.Context, ev event.Event, to *apis.URL, passThrough http.Header) attemptResult {
	header := http.Header{knNamespaceHeader: {w.plan.trigger.Namespace}}
	for k, v := range passThrough {
		header[k] = v
	}
	tok, err := w.b.deliveryToken(w.plan.trigger, w.plan.trigger.Spec.Subscriber)
	if err != nil {
		return attemptResult{code: http.StatusInternalServerError, err: err}
	}
	if tok != "" {
		header.Set("Authorization", "Bearer "+tok)
	}
	opts := []kncloudevents.SendOption{kncloudevents.WithRetryConfig(&w.attempt), kncloudevents.WithHeader(header)}
	if w.plan.delivery.Format != nil {
		opts = append(opts, kncloudevents.WithEventFormat(w.plan.delivery.Format))
	}
	info, err := w.b.dispatcher.SendEvent(ctx, ev, duckv1.Addressable{URL: to}, opts...)
	res := attemptResult{err: err, code: kncloudevents.NoResponse}
	if info != nil {
		res.code, res.header, res.body = info.ResponseCode, info.ResponseHeader, info.ResponseBody
	}
	if err != nil {
		if res.code == kncloudevents.NoResponse {
			res.code = http.StatusInternalServerError
		}
		return res
	}
	msg := cehttp.NewMessage(res.header, io.NopCloser(bytes.NewReader(res.body)))
	defer msg.Finish(nil)
	if msg.ReadEncoding() == binding.EncodingUnknown {
		if len(res.body) > 0 {
			res.code, res.err = http.StatusBadGateway, fmt.Errorf("the subscriber answered %d with a body that is not a CloudEvent", info.ResponseCode)
			return res
		}
		res.ok = true
		return res
	}
	reply, err := binding.ToEvent(ctx, msg)
	if err == nil {
		err = reply.Validate()
	}
	if err != nil {
		res.code, res.err = http.StatusBadGateway, fmt.Errorf("the subscriber's reply is not a valid CloudEvent: %w", err)
		return res
	}
	res.ok, res.reply = true, reply
	return res
}

// sendDeadLetter makes one attempt to the dead-letter sink. Knative's
// dispatcher is not used here: it sends every request with `Prefer: reply`
// (a sink is not asked for a reply), and its own dead-letter path panics on
// a failure body over 768 bytes. Any 2xx is a success; the body is ignored.
func (w *triggerWorker) sendDeadLetter(ctx context.Context, ev event.Event, to *apis.URL, passThrough http.Header) attemptResult {
	ctx, cancel := context.WithTimeout(ctx, w.retry.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, to.String(), nil)
	if err != nil {
		return attemptResult{code: http.StatusInternalServerError, err: err}
	}
	for k, v := range passThrough {
		req.Header[k] = v
	}
	req.Header.Set(knNamespaceHeader, w.plan.trigger.Namespace)
	if w.plan.delivery.DeadLetterSink != nil {
		tok, err := w.b.deliveryToken(w.plan.trigger, *w.plan.delivery.DeadLetterSink)
		if err != nil {
			return attemptResult{code: http.StatusInternalServerError, err: err}
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&ev), req); err != nil {
		return attemptResult{code: http.StatusInternalServerError, err: err}
	}
	resp, err := w.b.deadLetters.Do(req)
	if err != nil {
		return attemptResult{code: http.StatusInternalServerError, err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	res := attemptResult{code: resp.StatusCode, header: resp.Header, body: body}
	res.ok = resp.StatusCode >= 200 && resp.StatusCode < 300
	return res
}

// forwardReply puts a subscriber's reply back into the broker, carrying on
// the TTL of the event it answers so that reply loops end, and the pass-
// through headers of the response. It reports whether the delivery is done.
// If the store is down, the event is delivered again later; if the broker
// refuses the reply (its TTL ran out), the original event goes to the
// dead-letter sink with code 400, as in Knative's broker.
func (w *triggerWorker) forwardReply(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, original event.Event, res attemptResult, ttl int32, ttlErr error) bool {
	reply := *res.reply
	if ttlErr == nil {
		_ = knbroker.SetTTL(reply.Context, ttl)
	}
	code, reason := http.StatusAccepted, ""
	// A reply is sent by the Trigger (Knative's broker filter posts it with
	// the Trigger's identity), so the Trigger's identity must be allowed to
	// send it.
	if err := w.b.authorize(ctx, w.plan.broker, w.plan.subject, &reply); err != nil {
		code, reason = http.StatusForbidden, err.Error()
	} else {
		code, reason = w.b.accept(ctx, w.plan.broker, reply, utils.PassThroughHeaders(res.header))
	}
	switch code {
	case http.StatusAccepted:
		return true
	case http.StatusServiceUnavailable:
		w.b.logger.Warn("reply not stored; the event will be delivered again", "trigger", w.plan.key, "reply", reply.ID())
		_ = msg.NakWithDelay(time.Second)
		return false
	default:
		w.b.logger.Warn("reply refused; the event goes to the dead-letter sink", "trigger", w.plan.key, "reply", reply.ID(), "code", code, "reason", reason)
		w.deadLetterTo(ctx, msg, meta, original, attemptResult{code: code, body: []byte(reason)}, w.b.brokerURL(w.plan.broker))
		return false
	}
}

// deadLetter sends the event to the dead-letter sink with the knativeerror*
// extensions set to this failure, or drops it when there is no sink. A sink
// that fails is tried again later (the event is never dropped while a sink
// is configured).
func (w *triggerWorker) deadLetter(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, ev event.Event, res attemptResult) {
	w.deadLetterTo(ctx, msg, meta, ev, res, w.plan.subscriber)
}

// deadLetterTo is deadLetter with the destination that failed, recorded in
// knativeerrordest.
func (w *triggerWorker) deadLetterTo(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, ev event.Event, res attemptResult, failed *apis.URL) {
	if w.plan.deadLetter == nil {
		w.b.metrics.deadLettered.WithLabelValues(w.plan.key, "none").Inc()
		w.b.logger.Warn("delivery failed; no dead-letter sink, event dropped", "trigger", w.plan.key, "id", ev.ID(), "code", res.code, "error", res.err)
		w.ack(msg)
		return
	}
	dl := ev.Clone()
	_ = knbroker.DeleteTTL(dl.Context)
	dl.SetExtension(knattributes.KnativeErrorDestExtensionKey, types.URI{URL: *failed.URL()})
	dl.SetExtension(knattributes.KnativeErrorCodeExtensionKey, int32(res.code))
	if len(res.body) > 0 {
		// At most 1024 characters of base64, as Knative's dispatcher means to write.
		body := res.body[:min(len(res.body), knattributes.KnativeErrorDataExtensionMaxLength*3/4)]
		dl.SetExtension(knattributes.KnativeErrorDataExtensionKey, base64.StdEncoding.EncodeToString(body))
	} else {
		// A value from an earlier dead-lettering would describe another failure.
		dl.SetExtension(knattributes.KnativeErrorDataExtensionKey, nil)
	}
	sent := w.sendDeadLetter(ctx, dl, w.plan.deadLetter, utils.PassThroughHeaders(http.Header(msg.Headers())))
	if !sent.ok {
		w.failures.Store(meta.Sequence.Stream, pendingDeadLetter{res: res, failed: failed})
		delay := w.deadLetterBackoff(int(meta.NumDelivered) - 1 - w.retry.RetryMax)
		w.b.logger.Warn("dead-letter sink failed; will try again", "trigger", w.plan.key, "id", ev.ID(), "sink", w.plan.deadLetter.String(), "code", sent.code, "in", delay)
		_ = msg.NakWithDelay(delay)
		return
	}
	w.failures.Delete(meta.Sequence.Stream)
	w.b.metrics.deadLettered.WithLabelValues(w.plan.key, w.plan.deadLetter.String()).Inc()
	w.ack(msg)
}

// deadLetterBackoff is the wait before attempt k+1 (k from 0) at the
// dead-letter sink: the trigger's backoff delay (250ms when it has none),
// doubled each time, at most a minute. Knative drops an event once its sink
// failed `retry` more times; here it is kept until the sink takes it, since
// accepted events are never to be lost.
func (w *triggerWorker) deadLetterBackoff(k int) time.Duration {
	base := w.retry.Backoff(0, nil)
	if base <= 0 {
		base = w.retry.Backoff(1, nil)
	}
	if base <= 0 {
		base = 250 * time.Millisecond
	}
	d := base << min(max(k, 0), 20)
	return min(d, time.Minute)
}

// pendingDeadLetter is an event whose dead-letter send failed: the failure
// it reports and the destination that failed.
type pendingDeadLetter struct {
	res    attemptResult
	failed *apis.URL
}

// pendingDeadLetter returns what to report for an event waiting for the
// dead-letter sink, if this process saw its last failure.
func (w *triggerWorker) pendingDeadLetter(meta *jetstream.MsgMetadata) (pendingDeadLetter, bool) {
	v, ok := w.failures.Load(meta.Sequence.Stream)
	if !ok {
		return pendingDeadLetter{}, false
	}
	return v.(pendingDeadLetter), true
}

// holdLateCopy keeps a late copy (see lateCopy) undelivered until the
// dedupe window after it was stored has passed, then drops it. It is kept
// that long so that the producer's retry of the event, which the store
// reports as a duplicate of this copy, can see that the copy is late and
// store the event anew (store.checkDuplicate).
func (w *triggerWorker) holdLateCopy(msg jetstream.Msg, meta *jetstream.MsgMetadata, ev event.Event) {
	if wait := time.Until(meta.Timestamp.Add(dedupeWindow)); wait > 0 {
		_ = msg.NakWithDelay(wait + time.Second)
		return
	}
	w.b.logger.Warn("event stored after its producer was answered 503; dropped", "trigger", w.plan.key, "id", ev.ID(), "source", ev.Source())
	w.ack(msg)
}

// ack acknowledges msg and waits for the store to confirm it. An ack sent
// without waiting could still be queued in the store when the broker
// closed, and the event was delivered once more after the restart (13 of
// 2,000 events in TestRestartWindowExactlyOnce).
func (w *triggerWorker) ack(msg jetstream.Msg) {
	ctx, cancel := context.WithTimeout(context.Background(), ackConfirmTimeout)
	defer cancel()
	if err := msg.DoubleAck(ctx); err != nil {
		w.b.logger.Warn("ack", "trigger", w.plan.key, "error", err)
	}
}

// retryAfter honours a 429 or 503 Retry-After header, capped, when the
// delivery spec sets retryAfterMax (Knative's rule; its parser is unexported).
func retryAfter(res attemptResult, max *time.Duration) time.Duration {
	if max == nil || *max <= 0 || (res.code != http.StatusTooManyRequests && res.code != http.StatusServiceUnavailable) {
		return 0
	}
	v := res.header.Get("Retry-After")
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	}
	return min(max0(d), *max)
}

func max0(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d
}

func arrival(ev event.Event) (time.Time, bool) {
	v, ok := ev.Extensions()[knbroker.EventArrivalTime]
	if !ok {
		return time.Time{}, false
	}
	t, err := types.ToTime(v)
	return t, err == nil
}
