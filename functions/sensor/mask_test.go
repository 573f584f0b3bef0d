package sensor_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/functions/webhook"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

// Issue 11: X-Api-Key and Cookie values were stored in clear in the Sensor
// status. An event that waits for another dependency is kept there; its
// sensitive headers are masked, whether a webhook masked them already or
// the event came from a source that did not, and the other headers and
// the body are kept for the firing.
func TestWaitingEventsHaveTheirSensitiveHeadersMasked(t *testing.T) {
	hook := newEndpoint(t)
	r := start(t, `
metadata: {name: masked}
spec:
  dependencies:
  - {name: web, eventSourceName: masked-hook, eventName: orders}
  - {name: other, eventSourceName: elsewhere, eventName: orders}
  - {name: go, eventSourceName: src, eventName: go}
  triggers:
  - template:
      name: fire
      conditions: "web && other && go"
      http:
        url: `+hook.URL+`
        payload:
        - {src: {dependencyName: web, dataKey: body.order}, dest: web}
        - {src: {dependencyName: other, dataKey: body.order}, dest: other}
        - {src: {dependencyName: other, dataKey: header.X-Request-Id.0}, dest: request}
`, rigOptions{})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(r.logs)
		}
	})

	// Through the real webhook, as a caller posts.
	var es v1alpha1.EventSource
	if err := yaml.UnmarshalStrict([]byte(`
metadata: {name: masked-hook, namespace: default}
spec:
  webhook:
    orders: {port: "12000", endpoint: /orders, method: POST}
`), &es); err != nil {
		t.Fatal(err)
	}
	w, err := webhook.New(&es, webhook.Options{Send: sdk.NewSender(bus.Address("default", "default")).Send})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("POST", srv.URL+"/orders", strings.NewReader(`{"order":"o-1"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", "session=web-cookie")
	req.Header.Set("X-Api-Key", "web-api-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("webhook: %d %s", resp.StatusCode, b)
	}

	// From a source that does not mask, with the header names spelt as it
	// likes.
	send(t, "elsewhere", "orders", "other-1", map[string]any{
		"header": map[string][]string{"cookie": {"other-cookie"}, "X-API-KEY": {"other-api-key"}, "Authorization": {"Bearer other-token"}, "Set-Cookie": {"a=other-set"}, "X-Request-Id": {"r-7"}},
		"body":   map[string]string{"order": "o-2"},
	})
	waitFor(t, "both events to wait", func() bool {
		w := r.waiting(t, "fire")
		return w["web"] != "" && w["other"] == "other-1"
	})

	st := r.status(t)
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"web-cookie", "web-api-key", "other-cookie", "other-api-key", "other-token", "other-set"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("%q is in the Sensor status: %s", secret, raw)
		}
	}
	var other struct {
		Data struct {
			Header map[string][]string `json:"header"`
		} `json:"data"`
	}
	for _, d := range st.Triggers[0].Dependencies {
		if d.Name != "other" {
			continue
		}
		if err := json.Unmarshal(d.Event.Raw, &other); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []string{"cookie", "X-API-KEY", "Authorization", "Set-Cookie"} {
		if got := other.Data.Header[h]; len(got) != 1 || got[0] != secrets.Masked {
			t.Errorf("%s in the status: %q", h, got)
		}
	}
	if got := other.Data.Header["X-Request-Id"]; len(got) != 1 || got[0] != "r-7" {
		t.Errorf("an ordinary header was masked: %v", other.Data.Header)
	}

	// The firing still has what it needs.
	hook.none(t, 100*time.Millisecond)
	send(t, "src", "go", "go-1", map[string]int{"n": 1})
	got := jsonBody(t, hook.next(t))
	if got["web"] != "o-1" || got["other"] != "o-2" || got["request"] != "r-7" {
		t.Fatalf("fired with %v", got)
	}
}
