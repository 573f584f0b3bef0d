package filter_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/filter"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// The filter function answers what no redelivery can change with a status
// that Knative's delivery does not retry (it retries 404, 408, 409, 429
// and 5xx): a path that names no dependency of the sensor is 400, not 404,
// and so is an event that is not a CloudEvent. Served over loopback.
func TestFilterRefusalsAreNotRetried(t *testing.T) {
	var s v1alpha1.Sensor
	if err := yaml.UnmarshalStrict([]byte(`
metadata: {name: refusals, namespace: default}
spec:
  dependencies:
  - name: push
    eventSourceName: src
    eventName: e
    filters:
      data:
      - {path: body.kind, type: string, value: [keep]}
  triggers:
  - template: {name: t, log: {}}
`), &s); err != nil {
		t.Fatal(err)
	}
	fn, err := filter.NewFunction(&s, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sdk.Serve(ctx, fn, sdk.Options{Listener: l, Logger: slog.New(slog.DiscardHandler)}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	base := "http://" + l.Addr().String()

	source := func(kind string) *event.Event {
		ev := event.New()
		ev.SetID("e-" + kind)
		ev.SetType("webhook")
		ev.SetSource("src")
		ev.SetExtension(events.ExtEventSource, "src")
		ev.SetExtension(events.ExtEvent, "e")
		_ = ev.SetData(event.ApplicationJSON, map[string]any{"body": map[string]string{"kind": kind}})
		return &ev
	}
	for _, tc := range []struct {
		name string
		path string
		ev   *event.Event // nil: a plain JSON body
		want int
	}{
		{"a passing event", "/push", source("keep"), http.StatusOK},
		{"a filtered-out event", "/push", source("drop"), http.StatusAccepted},
		{"an unknown dependency", "/pull", source("keep"), http.StatusBadRequest},
		{"no dependency", "/", source("keep"), http.StatusBadRequest},
		{"not a CloudEvent", "/push", nil, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, base+tc.path, strings.NewReader(`{"body":{"kind":"keep"}}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if tc.ev != nil {
				if err := cehttp.WriteRequest(ctx, binding.ToMessage(tc.ev), req); err != nil {
					t.Fatal(err)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s answered %d (%s), want %d", tc.path, resp.StatusCode, strings.TrimSpace(string(body)), tc.want)
			}
			if tc.want == http.StatusBadRequest && tc.ev != nil && !strings.Contains(string(body), `no dependency "`) {
				t.Errorf("the answer %q does not say which dependency is missing", body)
			}
		})
	}
}
