package sdk_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// A function whose sink refuses what it sends answers the broker with a
// status the broker does not retry (422) when no redelivery can change the
// refusal, and 500, which it retries, when one may: the sink is a real
// server on loopback answering each status.
func TestASinksPermanentRefusalIsNotAnsweredAsTemporary(t *testing.T) {
	for _, tc := range []struct {
		sink, want int
	}{
		{http.StatusAccepted, http.StatusAccepted},
		{http.StatusOK, http.StatusAccepted},
		{http.StatusBadRequest, http.StatusUnprocessableEntity},
		{http.StatusUnauthorized, http.StatusUnprocessableEntity},
		{http.StatusForbidden, http.StatusUnprocessableEntity},
		{http.StatusNotFound, http.StatusUnprocessableEntity},
		{http.StatusMethodNotAllowed, http.StatusUnprocessableEntity},
		{http.StatusConflict, http.StatusUnprocessableEntity},
		{http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity},
		{http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity},
		{http.StatusUnprocessableEntity, http.StatusUnprocessableEntity},
		{http.StatusRequestTimeout, http.StatusInternalServerError},
		{http.StatusTooManyRequests, http.StatusInternalServerError},
		{http.StatusInternalServerError, http.StatusInternalServerError},
		{http.StatusBadGateway, http.StatusInternalServerError},
		{http.StatusServiceUnavailable, http.StatusInternalServerError},
	} {
		t.Run(fmt.Sprint(tc.sink), func(t *testing.T) {
			var got atomic.Int32
			sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				got.Add(1)
				http.Error(w, "the sink says no", tc.sink)
			}))
			defer sink.Close()
			sender := sdk.NewSender(sink.URL)
			h := sdk.HandlerFunc(func(ctx context.Context, e event.Event) (*event.Event, error) {
				return nil, sender.Send(ctx, newEvent("out-"+e.ID(), "forwarded"))
			})
			url := serve(t, h, sdk.Options{})
			resp := post(t, url, newEvent("1", "in"))
			if resp.StatusCode != tc.want {
				t.Errorf("the function answered %d to a sink's %d, want %d", resp.StatusCode, tc.sink, tc.want)
			}
			if got.Load() != 1 {
				t.Errorf("the sink got %d requests, want 1 (the sender does not retry by itself)", got.Load())
			}
		})
	}
}

// A status the handler sets wins over what it wraps: a function may
// decide that its sink's refusal is retryable after all.
func TestAHandlersOwnStatusWins(t *testing.T) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusBadRequest)
	}))
	defer sink.Close()
	sender := sdk.NewSender(sink.URL)
	url := serve(t, sdk.HandlerFunc(func(ctx context.Context, e event.Event) (*event.Event, error) {
		return nil, sdk.Status(http.StatusServiceUnavailable, sender.Send(ctx, newEvent("out", "x")))
	}), sdk.Options{})
	if resp := post(t, url, newEvent("1", "in")); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d, want the handler's 503", resp.StatusCode)
	}
}

// Whatever is not a valid CloudEvent is refused with 400 (413 when too
// large, 405 when not a POST) before the handler sees it, in binary and
// structured mode.
func TestMalformedEventsAre400(t *testing.T) {
	var called atomic.Int32
	url := serve(t, sdk.HandlerFunc(func(context.Context, event.Event) (*event.Event, error) {
		called.Add(1)
		return nil, nil
	}), sdk.Options{MaxBodyBytes: 4096})
	binary := func(drop string, set ...string) http.Header {
		h := http.Header{"Ce-Specversion": {"1.0"}, "Ce-Id": {"1"}, "Ce-Source": {"/test"}, "Ce-Type": {"t"}, "Content-Type": {"application/json"}}
		h.Del(drop)
		for i := 0; i+1 < len(set); i += 2 {
			h.Set(set[i], set[i+1])
		}
		return h
	}
	structured := http.Header{"Content-Type": {"application/cloudevents+json"}}
	for _, tc := range []struct {
		name   string
		method string
		header http.Header
		body   string
		want   int
	}{
		{name: "plain JSON", header: http.Header{"Content-Type": {"application/json"}}, body: `{}`, want: 400},
		{name: "binary without id", header: binary("Ce-Id"), body: `{}`, want: 400},
		{name: "binary without source", header: binary("Ce-Source"), body: `{}`, want: 400},
		{name: "binary without type", header: binary("Ce-Type"), body: `{}`, want: 400},
		{name: "binary with an unknown specversion", header: binary("", "Ce-Specversion", "9.9"), body: `{}`, want: 400},
		{name: "binary with a bad time", header: binary("", "Ce-Time", "yesterday"), body: `{}`, want: 400},
		{name: "structured, not JSON", header: structured, body: `{"specversion":`, want: 400},
		{name: "structured without id", header: structured, body: `{"specversion":"1.0","source":"/x","type":"t"}`, want: 400},
		{name: "structured 0.3 with a space in an extension name", header: structured, body: `{"specversion":"0.3","id":"1","source":"/x","type":"t","bad name":"v"}`, want: 400},
		{name: "structured 0.3 with a dash in an extension name", header: structured, body: `{"specversion":"0.3","id":"1","source":"/x","type":"t","a-b":"v"}`, want: 400},
		{name: "structured 1.0 with a dash in an extension name", header: structured, body: `{"specversion":"1.0","id":"1","source":"/x","type":"t","a-b":"v"}`, want: 400},
		{name: "structured with a control character in an extension", header: structured, body: `{"specversion":"1.0","id":"1","source":"/x","type":"t","ab":"x\ny"}`, want: 400},
		{name: "structured with a bad data_base64", header: structured, body: `{"specversion":"1.0","id":"1","source":"/x","type":"t","data_base64":"!!"}`, want: 400},
		{name: "too large", header: binary(""), body: `"` + strings.Repeat("x", 8192) + `"`, want: 413},
		{name: "GET", method: http.MethodGet, header: binary(""), want: 405},
		{name: "PUT", method: http.MethodPut, header: binary(""), body: `{}`, want: 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, url, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tc.header
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	if n := called.Load(); n != 0 {
		t.Errorf("the handler saw %d malformed events", n)
	}
}
