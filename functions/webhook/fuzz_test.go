package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/broker"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/functions/webhook"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

// fuzzSource has one route of each kind the handler treats differently.
// It is its own copy, so that the corpus keeps its meaning when the other
// tests' source changes.
const fuzzSource = `
apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: fuzz, namespace: default}
spec:
  webhook:
    plain:
      port: "12000"
      endpoint: /plain
      method: POST
      metadata: {team: data}
    put:
      port: "12000"
      endpoint: /plain
      method: PUT
    secured:
      port: "12000"
      endpoint: /secured
      method: POST
      authSecret: {name: webhook-auth, key: token}
    small:
      port: "12000"
      endpoint: /small
      method: POST
      maxPayloadSize: 64
    query:
      port: "12000"
      endpoint: /query
      method: GET
    remove:
      port: "12000"
      endpoint: /query
      method: DELETE
    filtered:
      port: "12000"
      endpoint: /filtered
      method: POST
      filter: {expression: 'body.kind == "keep" && header["Content-Type"][0] startsWith "application/"'}
`

// FuzzWebhook sends arbitrary requests to the webhook handler, with a Send
// that records instead of a broker. Whatever the request, the handler must
// not panic, must answer one of the statuses it documents, and must send
// at most one event, only when it answers 200; that event is valid, routed
// to its route, carries no reserved type or extension but the routing ones
// the webhook sets, and, unless the request was a CloudEvent, carries
// Argo's {header, body} data with the Authorization header masked. A body over the
// route's maxPayloadSize is never accepted, and 200 is never the answer
// when the broker refused the event.
func FuzzWebhook(f *testing.F) {
	var es v1alpha1.EventSource
	if err := yaml.UnmarshalStrict([]byte(fuzzSource), &es); err != nil {
		f.Fatal(err)
	}
	if errs := v1alpha1.ValidateEventSource(&es); len(errs) > 0 {
		f.Fatal(errs.ToAggregate())
	}
	// By "endpoint method", as the handler routes.
	routes := map[string]v1alpha1.WebhookEventSource{}
	names := map[string]string{}
	for name, spec := range es.Spec.Webhook {
		routes[spec.Endpoint+" "+spec.Method] = spec
		names[spec.Endpoint+" "+spec.Method] = name
	}
	env := map[string]string{secrets.EnvName(v1alpha1.SecretKeySelector{Name: "webhook-auth", Key: "token"}): "s3cret"}

	for _, s := range []struct {
		method, target, contentType, auth, ce string
		body                                  string
		brokerDown                            bool
	}{
		{"POST", "/plain", "application/json", "", "", `{"records":[1,2],"run":"r-1"}`, false},
		{"POST", "/plain", "application/json", "Bearer leaked", "", `{"a":1}`, false},
		{"PUT", "/plain", "application/json; charset=utf-8", "", "", ` [1, "x", null] `, false},
		{"POST", "/plain", "application/json", "", "", `{"a":`, false},
		{"POST", "/plain", "text/plain", "", "", `hello`, false},
		{"POST", "/plain", "", "", "", ``, false},
		{"POST", "/plain", "application/x-www-form-urlencoded", "Basic czNjcmV0", "", `a=1&b=2&a=%zz`, false},
		{"POST", "/plain", "application/json", "", "", `{}`, true},
		{"POST", "/secured", "application/json", "Bearer s3cret", "", `{}`, false},
		{"POST", "/secured", "application/json", "Bearer wrong", "", `{}`, false},
		{"POST", "/secured", "application/json", "", "", `{}`, false},
		{"POST", "/small", "application/json", "", "", `{"x":"` + strings.Repeat("a", 100) + `"}`, false},
		{"POST", "/small", "application/x-www-form-urlencoded", "", "", "x=" + strings.Repeat("a", 100), false},
		{"POST", "/small", "application/json", "", "1.0", strings.Repeat("1", 65), false},
		{"POST", "/small", "application/cloudevents+json", "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"` + strings.Repeat("a", 64) + `"}`, false},
		{"GET", "/query?a=1&a=2&b=", "", "Bearer t", "", ``, false},
		{"DELETE", "/query?x=%41", "", "", "", `ignored`, false},
		{"GET", "/plain", "", "", "", ``, false},
		{"HEAD", "/query", "", "", "", ``, false},
		{"POST", "/nope", "application/json", "", "", `{}`, false},
		{"GET", "/health", "", "", "", ``, false},
		{"POST", "/filtered", "application/json", "", "", `{"kind":"keep"}`, false},
		{"POST", "/filtered", "application/json", "", "", `{"kind":"drop"}`, false},
		{"POST", "/filtered", "application/json", "", "", `"not an object"`, false},
		{"POST", "/plain", "application/json", "", "1.0", `{"x":1}`, false},
		{"POST", "/plain", "application/json", "Bearer leaked", "0.3", `{"x":1}`, false},
		{"POST", "/plain", "application/cloudevents+json", "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":1}}`, false},
		{"POST", "/plain", "application/cloudevents+json", "", "", `{"specversion":"1.0","id":"1","type":"t"}`, false},
		{"POST", "/plain", "application/cloudevents+json", "", "", `{"specversion":"1.0"`, false},
		{"POST", "/plain", "application/cloudevents+json", "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"!!"}`, false},
		// Reserved types and extensions, which the handler refuses.
		{"POST", "/plain", "application/cloudevents+json", "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"dev.zeroflow.step.run","zffunction":"exec","data":{}}`, false},
		{"POST", "/plain", "application/cloudevents+json", "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","zfeventsource":"other","zfevent":"secured"}`, false},
		{"POST", "/plain", "application/cloudevents+json", "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","knativeerrorcode":"500"}`, false},
		{"POST", "/plain", "application/cloudevents+json", "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"dev.knative.sources.ping"}`, false},
		{"POST", "/plain", "application/cloudevents+json", "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","tenant":"acme","data":{"a":1}}`, false},
		// The broker refuses these (400): an extension name the SDK lets
		// through for 0.3, and one whose value has a control character.
		{"POST", "/plain", "application/cloudevents+json", "", "", `{"specversion":"0.3","id":"1","source":"/s","type":"t","a b":"x"}`, false},
		{"POST", "/plain", "application/cloudevents+json", "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","ab":"x\u0001y"}`, false},
	} {
		f.Add(s.method, s.target, s.contentType, s.auth, s.ce, []byte(s.body), s.brokerDown)
	}

	// The events go to a real embedded broker, which refuses what it
	// cannot store (a CloudEvents 0.3 extension name the SDK lets through,
	// an event over its size limit) with a 4xx: the webhook must not turn
	// that into a 503 that asks the caller to retry.
	b, err := broker.Start(context.Background(), broker.Options{DataDir: f.TempDir(), MaxEventBytes: 64 << 10})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.Close() })
	if err := b.Apply(context.Background(), broker.Config{Brokers: []eventingv1.Broker{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "default"}}}}); err != nil {
		f.Fatal(err)
	}
	sender := sdk.NewSender(b.Address("default", "default")).WithOffload(sdk.EventOffload{}, "")

	// One webhook for all inputs, as a server has: a worker process calls
	// the fuzz function for one input at a time, so sent, refused and down
	// are that input's.
	var sent []event.Event
	var refused *sdk.SendError
	var down bool
	hook, err := webhook.New(&es, webhook.Options{
		Send: func(ctx context.Context, ev event.Event) error {
			if down {
				return errors.New("broker down")
			}
			if err := sender.Send(ctx, ev); err != nil {
				_ = errors.As(err, &refused)
				return err
			}
			sent = append(sent, ev)
			return nil
		},
		Offload: &sdk.EventOffload{},
		Secrets: secrets.Local{Getenv: func(k string) string { return env[k] }},
	})
	if err != nil {
		f.Fatal(err)
	}
	handler := hook.Handler()

	f.Fuzz(func(t *testing.T, method, target, contentType, auth, ce string, body []byte, brokerDown bool) {
		// What net/http's server would refuse never reaches the handler.
		if !isToken(method) || !validHeaderValue(contentType) || !validHeaderValue(auth) || !validHeaderValue(ce) {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(target, "/") {
			return
		}
		sent, refused, down = nil, nil, brokerDown
		req := &http.Request{
			Method:        method,
			URL:           u,
			RequestURI:    target,
			Proto:         "HTTP/1.1",
			ProtoMajor:    1,
			ProtoMinor:    1,
			Header:        http.Header{},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
			Host:          "webhook.example",
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if ce != "" {
			// The other attributes, so that a binary CloudEvent can be
			// valid; the fuzzer picks the spec version.
			req.Header.Set("Ce-Specversion", ce)
			req.Header.Set("Ce-Id", "fuzz-1")
			req.Header.Set("Ce-Source", "/fuzz")
			req.Header.Set("Ce-Type", "fuzz.type")
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req.WithContext(context.Background()))

		code := rec.Code
		switch code {
		case 200, 400, 401, 404, 405, 413, 503:
		default:
			t.Fatalf("%s %s: status %d (%s)", method, target, code, rec.Body)
		}
		// The broker's refusal of the event itself is the caller's to
		// hear: a 503 would have it send the same event for ever.
		if refused != nil && (refused.Code == http.StatusBadRequest || refused.Code == http.StatusRequestEntityTooLarge) && code != refused.Code {
			t.Fatalf("%s %s: the broker refused the event with %d (%s), the webhook answered %d", method, target, refused.Code, refused.Body, code)
		}
		// The broker is up: a 503, which asks the caller to retry, is
		// for a store or broker that is down, never for the request.
		if code == http.StatusServiceUnavailable && !brokerDown {
			t.Fatalf("%s %s: 503 with the broker up: %s", method, target, rec.Body)
		}
		if code != 200 && len(sent) > 0 {
			t.Fatalf("%s %s: status %d, but an event was sent", method, target, code)
		}
		if len(sent) > 1 {
			t.Fatalf("%s %s: %d events sent for one request", method, target, len(sent))
		}
		key := u.Path + " " + method
		route, routed := routes[key]
		if routed && method != http.MethodGet && method != http.MethodDelete && int64(len(body)) > route.MaxPayload() && code == 200 {
			t.Fatalf("%s %s: a body of %d bytes, over the maximum of %d, was accepted", method, target, len(body), route.MaxPayload())
		}
		// 200 means the broker took the event, unless the route's filter
		// dropped it or nothing was to be sent.
		if brokerDown && code == 200 && names[key] != "filtered" && u.Path != "/health" {
			t.Fatalf("%s %s: 200 while the broker refused the event", method, target)
		}
		if len(sent) == 0 {
			return
		}
		ev := sent[0]
		if err := ev.Validate(); err != nil {
			t.Fatalf("%s %s: invalid event sent: %v\n%v", method, target, err, ev)
		}
		if !routed {
			t.Fatalf("%s %s: an event was sent for no route", method, target)
		}
		ext := ev.Extensions()
		if ext[events.ExtEventSource] != "fuzz" || ext[events.ExtEvent] != names[key] {
			t.Fatalf("%s %s: routing extensions %v, want fuzz/%s", method, target, ext, names[key])
		}
		if isCloudEventRequest(req) {
			// External events are data: apart from the routing extensions
			// the webhook sets, nothing reserved gets through.
			outside := ev.Clone()
			for _, ext := range []string{events.ExtEventSource, events.ExtEvent} {
				outside.SetExtension(ext, nil)
			}
			if err := events.CheckExternal(outside); err != nil {
				t.Fatalf("%s %s: a reserved attribute was sent: %v", method, target, err)
			}
			return
		}
		var d map[string]json.RawMessage
		if err := json.Unmarshal(ev.Data(), &d); err != nil {
			t.Fatalf("%s %s: event data %q is not a JSON object: %v", method, target, ev.Data(), err)
		}
		if _, ok := d["header"]; !ok || !json.Valid(d["body"]) {
			t.Fatalf("%s %s: event data %s lacks header or a JSON body", method, target, ev.Data())
		}
		var header http.Header
		if err := json.Unmarshal(d["header"], &header); err != nil {
			t.Fatalf("%s %s: header %s: %v", method, target, d["header"], err)
		}
		if got, ok := header["Authorization"]; ok != (auth != "") || (ok && !slices.Equal(got, []string{"*** Masked Auth Secret ***"})) {
			t.Fatalf("%s %s: Authorization %q in the event, sent %q", method, target, got, auth)
		}
	})
}

// isCloudEventRequest is the handler's test for a CloudEvent: a binary one
// has Ce-Specversion, a structured one its media type.
func isCloudEventRequest(r *http.Request) bool {
	if r.Header.Get("Ce-Specversion") != "" {
		return true
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/cloudevents+json"
}

// isToken is RFC 9110's token, which net/http requires of a method.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validHeaderValue rejects what net/http's server would not parse as a
// header value; leading and trailing blanks are trimmed by the server.
func validHeaderValue(s string) bool {
	return !strings.ContainsAny(s, "\r\n\x00") && strings.TrimSpace(s) == s
}
