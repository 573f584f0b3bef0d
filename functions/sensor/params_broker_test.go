package sensor_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Every parameter source and operation, on events that went through the
// real broker and the filter function (so the context the parameters read
// is the one that survived the trip): an http trigger's payload and its own
// parameters, and a k8s trigger's parameters on a real object.
func TestParametersThroughTheBroker(t *testing.T) {
	hook := newEndpoint(t)
	r := start(t, `
metadata: {name: params}
spec:
  dependencies:
  - {name: order, eventSourceName: psrc, eventName: order}
  - {name: coupon, eventSourceName: psrc, eventName: coupon}
  triggers:
  - template:
      name: call
      conditions: order || coupon
      http:
        url: `+hook.URL+`/orders
        headers: {X-Trace: "-zeroflow"}
        parameters:
        - src: {dependencyName: order, dataKey: path}
          dest: url
          operation: append
        - src: {dependencyName: order, dataKey: verb}
          dest: method
          operation: overwrite
        - src: {dependencyName: order, contextKey: id}
          dest: headers.X-Trace
          operation: prepend
        payload:
        - {src: {dependencyName: order, dataKey: customer.name}, dest: name}
        - {src: {dependencyName: order, dataKey: total}, dest: totalText}
        - {src: {dependencyName: order, dataKey: total, useRawData: true}, dest: total}
        - {src: {dependencyName: order, dataKey: customer}, dest: customerText}
        - {src: {dependencyName: order, dataKey: customer, useRawData: true}, dest: customer}
        - {src: {dependencyName: order, dataKey: customer.name, useRawData: true}, dest: rawString}
        - {src: {dependencyName: order, dataTemplate: '{{ .Input.customer.name | lower }}-{{ .Input.tags | join "+" }}'}, dest: label}
        - {src: {dependencyName: order, contextKey: id}, dest: context.id}
        - {src: {dependencyName: order, contextKey: source}, dest: context.source}
        - {src: {dependencyName: order, contextKey: type}, dest: context.type}
        - {src: {dependencyName: order, contextKey: time}, dest: context.time}
        - {src: {dependencyName: order, contextTemplate: '{{ .Input.type }}/{{ .Input.subject | upper }}'}, dest: context.route}
        - {src: {dependencyName: order, dataKey: discount, value: "0"}, dest: discount}
        - {src: {dependencyName: coupon, dataKey: code, value: NONE}, dest: coupon}
        - {src: {dependencyName: coupon, dataKey: code}, dest: couponCode}
        - {src: {dependencyName: order, dataKey: verb, contextKey: id}, dest: dataOverContext}
        - {src: {dependencyName: order, dataTemplate: '{{ .Input.nothing }}', dataKey: qty}, dest: keyAfterTemplate}
        - {src: {dependencyName: order, useRawData: true}, dest: whole}
        - {src: {dependencyName: order, dataKey: customer.name}, dest: greeting}
        - {src: {dependencyName: order, value: "Hello "}, dest: greeting, operation: prepend}
        - {src: {dependencyName: order, value: "!"}, dest: greeting, operation: append}
  - template:
      name: make
      conditions: order
      k8s:
        operation: create
        source:
          resource:
            apiVersion: example.com/v1
            kind: Widget
            metadata: {name: placeholder}
            spec: {schedule: "9 * * *", note: "by ", count: 0, build: 1}
        parameters:
        - src: {dependencyName: order, dataTemplate: 'params-{{ .Input.customer.name | lower }}'}
          dest: metadata.name
        - src: {dependencyName: order, dataTemplate: '{{ .Input.minute }} '}
          dest: spec.schedule
          operation: prepend
        - src: {dependencyName: order, contextKey: id}
          dest: spec.note
          operation: append
        - src: {dependencyName: order, dataKey: total, useRawData: true}
          dest: spec.count
        - src: {dependencyName: order, dataKey: qty, useRawData: true}
          dest: spec.build
          operation: append
        - src: {dependencyName: order, dataKey: tags, useRawData: true}
          dest: spec.tags
          operation: append
`, rigOptions{})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(r.logs)
		}
	})
	ctx := context.Background()
	crons := dyn.Resource(widgets).Namespace("default")
	t.Cleanup(func() { _ = crons.Delete(context.Background(), "params-ada", metav1.DeleteOptions{}) })

	order := sourceEvent("psrc", "order", "o-1", map[string]any{
		"customer": map[string]any{"name": "Ada", "tier": "gold"},
		"total":    12.5,
		"qty":      2,
		"tags":     []string{"new", "vip"},
		"path":     "/eu-west",
		"verb":     "PUT",
		"minute":   "30",
	})
	order.SetTime(time.Date(2025, 3, 1, 11, 0, 0, 0, time.FixedZone("CET", 3600)))
	if err := bus.Publish(ctx, "default", "default", order); err != nil {
		t.Fatal(err)
	}

	req := hook.next(t)
	// append on the url, overwrite of the method, prepend on a header.
	if req.Method != http.MethodPut || req.Path != "/orders/eu-west" || req.Header.Get("X-Trace") != "o-1-zeroflow" {
		t.Errorf("request %s %s X-Trace %q, want PUT /orders/eu-west o-1-zeroflow", req.Method, req.Path, req.Header.Get("X-Trace"))
	}
	// Without useRawData a number or an object is its JSON text in a
	// string; with it, inserted as JSON; a string stays a string. Context
	// keys use Argo's names, and time is UTC. value is the default for a
	// missing key and for a dependency that did not fire; a parameter
	// without one is then skipped (no couponCode). A data selector wins
	// over a context one, and a template that gives no value falls back to
	// the key. Without a selector the value is the whole event, its JSON
	// data embedded. Operations apply to the payload too, in order.
	assertJSON(t, "body of the order", req.Body, `{
		"name": "Ada",
		"totalText": "12.5",
		"total": 12.5,
		"customerText": "{\"name\":\"Ada\",\"tier\":\"gold\"}",
		"customer": {"name": "Ada", "tier": "gold"},
		"rawString": "Ada",
		"label": "ada-new+vip",
		"context": {"id": "o-1", "source": "psrc", "type": "webhook", "time": "2025-03-01T10:00:00Z", "route": "webhook/ORDER"},
		"discount": "0",
		"coupon": "NONE",
		"dataOverContext": "PUT",
		"keyAfterTemplate": "2",
		"whole": {
			"context": {"id": "o-1", "source": "psrc", "specversion": "1.0", "type": "webhook", "datacontenttype": "application/json", "subject": "order", "time": "2025-03-01T10:00:00Z"},
			"data": {"customer": {"name": "Ada", "tier": "gold"}, "total": 12.5, "qty": 2, "tags": ["new", "vip"], "path": "/eu-west", "verb": "PUT", "minute": "30"}
		},
		"greeting": "Hello Ada!"
	}`)

	waitFor(t, "the Widget", func() bool { _, err := crons.Get(ctx, "params-ada", metav1.GetOptions{}); return err == nil })
	got, err := crons.Get(ctx, "params-ada", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Append and prepend concatenate text, so appending the raw 2 to the
	// number 1 gives the string "12"; onto a missing dest, append just sets
	// (raw: the tags stay an array).
	spec, _ := json.Marshal(got.Object["spec"])
	assertJSON(t, "spec of the Widget", string(spec), `{
		"schedule": "30 9 * * *",
		"note": "by o-1",
		"count": 12.5,
		"build": "12",
		"tags": ["new", "vip"]
	}`)

	// Only coupon fires: the order's parameters without a default are
	// skipped, those with one take it, and prepend and append onto a dest
	// that is not there write their value alone.
	send(t, "psrc", "coupon", "c-1", map[string]any{"code": "SPRING"})
	req = hook.next(t)
	if req.Method != http.MethodPost || req.Path != "/orders" || req.Header.Get("X-Trace") != "-zeroflow" {
		t.Errorf("request %s %s X-Trace %q, want POST /orders -zeroflow", req.Method, req.Path, req.Header.Get("X-Trace"))
	}
	assertJSON(t, "body of the coupon", req.Body, `{"discount": "0", "coupon": "SPRING", "couponCode": "SPRING", "greeting": "Hello !"}`)
	hook.none(t, 200*time.Millisecond)
}

// assertJSON compares JSON documents by value, so that a number and its
// text differ but key order and spacing do not.
func assertJSON(t *testing.T, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: %q is not JSON: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: the expected JSON: %v", what, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}
