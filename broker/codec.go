package broker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/nats-io/nats.go"
)

// Events are stored as a binary-mode HTTP request would carry them: the
// attributes and extensions as Ce-* headers, the data as the body, unchanged.
// Binary data stays binary (structured JSON would base64 it), and the
// CloudEvents SDK's own HTTP binding writes and reads the format, so a
// stored event is exactly what a subscriber will receive.

// encodeEvent returns the headers and body to store for ev, with the
// pass-through headers added.
func encodeEvent(ctx context.Context, ev *event.Event, passThrough http.Header) (nats.Header, []byte, error) {
	req := &http.Request{Header: make(http.Header, len(passThrough)+8)}
	for k, v := range passThrough {
		req.Header[k] = v
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(ev), req); err != nil {
		return nil, nil, fmt.Errorf("encode event %s: %w", ev.ID(), err)
	}
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, nil, fmt.Errorf("encode event %s: %w", ev.ID(), err)
		}
	}
	return nats.Header(req.Header), body, nil
}

// decodeEvent reads a stored event back.
func decodeEvent(ctx context.Context, h nats.Header, body []byte) (event.Event, error) {
	msg := cehttp.NewMessage(http.Header(h), io.NopCloser(bytes.NewReader(body)))
	defer msg.Finish(nil)
	ev, err := binding.ToEvent(ctx, msg)
	if err != nil {
		return event.Event{}, fmt.Errorf("decode stored event: %w", err)
	}
	// Binary mode does not say that data is bytes; structured mode must
	// write such data as data_base64, or it is mangled into a JSON string.
	if data := ev.Data(); len(data) > 0 && !utf8.Valid(data) {
		ev.DataBase64 = true
	}
	return *ev, nil
}
