package webhook

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/zeroflow-dev/zeroflow/internal/expression"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// Data is an event's data: Argo's {header, body, metadata}.
type Data struct {
	Header   http.Header       `json:"header"`
	Body     json.RawMessage   `json:"body"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// toEvent turns a request into the event to send. keep is false when the
// route's filter drops it; code is not 0 when the request is refused.
func (w *Webhook) toEvent(r *http.Request, rt *route) (ev event.Event, keep bool, code int, msg string) {
	max := rt.spec.MaxPayload()
	if isCloudEvent(r) {
		// An incoming CloudEvent passes through with its attributes and
		// extensions (Argo re-wraps it and loses them).
		r.Body = http.MaxBytesReader(nil, r.Body, max)
		e, err := binding.ToEvent(r.Context(), cehttp.NewMessageFromHttpRequest(r))
		if err != nil {
			if tooLarge(err) {
				return ev, false, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", max)
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return ev, false, http.StatusRequestTimeout, "the request body was not sent in time"
			}
			return ev, false, http.StatusBadRequest, "malformed CloudEvent: " + err.Error()
		}
		if err := e.Validate(); err != nil {
			return ev, false, http.StatusBadRequest, "invalid CloudEvent: " + err.Error()
		}
		// Not 503 at the send: no broker can take it, however often the
		// caller retries.
		if err := sdk.CheckExtensions(*e); err != nil {
			return ev, false, http.StatusBadRequest, err.Error()
		}
		// Its attributes are the caller's, but the reserved ones would make
		// it a control event (a step to run, a result, a submit): refused
		// whole, so that the caller learns why rather than seeing it vanish.
		if err := events.CheckExternal(*e); err != nil {
			return ev, false, http.StatusBadRequest, "CloudEvent refused: " + err.Error()
		}
		return *e, true, 0, ""
	}
	body, code, msg := readBody(r, max)
	if code != 0 {
		return ev, false, code, msg
	}
	// Masked before the filter sees them, as Argo does for Authorization:
	// the filter sees what the event carries.
	header := rt.mask.Header(r.Header)
	data := Data{Header: header, Body: body, Metadata: rt.spec.Metadata}
	if rt.filter != nil {
		ok, err := runFilter(rt, data)
		if err != nil {
			w.opts.Logger.Warn("webhook filter failed; event dropped", "eventsource", w.source.Name, "event", rt.name, "error", err)
		}
		if !ok {
			return ev, false, 0, ""
		}
	}
	ev = event.New()
	ev.SetID(w.eventID(r, rt))
	ev.SetType(EventType)
	ev.SetSource(w.source.Name)
	ev.SetSubject(rt.name)
	ev.SetTime(time.Now().UTC())
	raw, err := json.Marshal(data)
	if err != nil {
		return ev, false, http.StatusBadRequest, "encode event data: " + err.Error()
	}
	if err := ev.SetData(event.ApplicationJSON, raw); err != nil {
		return ev, false, http.StatusBadRequest, "encode event data: " + err.Error()
	}
	ev.DataBase64 = false
	return ev, true, 0, ""
}

// idempotencyHeaders are the request headers, in order, whose value names a
// request its sender may send again; the first one set makes the event id.
var idempotencyHeaders = [...]string{"Idempotency-Key", "X-Request-Id"}

// eventID is the event's CloudEvents id: derived from the caller's
// idempotency key when it sends one, so that the broker stores a retried
// request once (docs/events.md, "Accepted once"), else random, as Argo's.
// The EventSource and endpoint are part of it, so that two endpoints never
// share an id.
func (w *Webhook) eventID(r *http.Request, rt *route) string {
	for _, h := range idempotencyHeaders {
		if key := r.Header.Get(h); key != "" {
			sum := sha256.Sum256([]byte(w.source.Namespace + "\x00" + w.source.Name + "\x00" + rt.name + "\x00" + h + "\x00" + key))
			return "k-" + hex.EncodeToString(sum[:16])
		}
	}
	return newID()
}

func isCloudEvent(r *http.Request) bool {
	if r.Header.Get("Ce-Specversion") != "" {
		return true
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/cloudevents+json"
}

// readBody gives Argo's body: the query of a GET or DELETE, the fields of a
// form post, else the request body, which must be JSON.
func readBody(r *http.Request, max int64) (json.RawMessage, int, string) {
	switch r.Method {
	case http.MethodGet, http.MethodDelete:
		b, _ := json.Marshal(r.URL.Query())
		return b, 0, ""
	}
	r.Body = http.MaxBytesReader(nil, r.Body, max)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		if err := r.ParseForm(); err != nil {
			if tooLarge(err) {
				return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", max)
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, http.StatusRequestTimeout, "the request body was not sent in time"
			}
			return nil, http.StatusBadRequest, "malformed form body: " + err.Error()
		}
		b, _ := json.Marshal(r.PostForm)
		return b, 0, ""
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		if tooLarge(err) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", max)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, http.StatusRequestTimeout, "the request body was not sent in time"
		}
		return nil, http.StatusBadRequest, "read body: " + err.Error()
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, http.StatusBadRequest, "empty body: send a JSON document"
	}
	if !json.Valid(raw) {
		var v any
		err := json.Unmarshal(raw, &v)
		return nil, http.StatusBadRequest, "malformed JSON body: " + err.Error()
	}
	return raw, 0, ""
}

func tooLarge(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}

// runFilter evaluates the route's filter over header, body and metadata.
func runFilter(rt *route, d Data) (bool, error) {
	var body any
	if err := json.Unmarshal(d.Body, &body); err != nil {
		return false, err
	}
	header := make(map[string]any, len(d.Header))
	for k, v := range d.Header {
		header[k] = v
	}
	out, err := expression.Run(rt.filter, map[string]any{"header": header, "body": body, "metadata": d.Metadata})
	if err != nil {
		return false, fmt.Errorf("filter %q: %w", rt.spec.Filter.Expression, err)
	}
	ok, _ := out.(bool)
	return ok, nil
}
