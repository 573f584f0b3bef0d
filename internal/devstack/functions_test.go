package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The event half as a user runs it: a webhook POST to the dev stack goes
// through the broker, the sensor's filter and the sensor, whose http
// trigger calls a loopback server with the request body; a request that the
// filter drops calls nothing.
func TestWebhookToSensorTrigger(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server")
	}
	got := make(chan map[string]any, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		got <- body
	}))
	defer hook.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()

	dir := t.TempDir()
	manifests := fmt.Sprintf(`apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: orders}
spec:
  webhook:
    created: {port: "%s", endpoint: /orders, method: POST}
---
apiVersion: zeroflow.dev/v1alpha1
kind: Sensor
metadata: {name: big-orders}
spec:
  dependencies:
  - name: order
    eventSourceName: orders
    eventName: created
    filters:
      data:
      - {path: body.amount, type: number, comparator: ">=", value: ["100"]}
  triggers:
  - template:
      name: notify
      http:
        url: %s
        payload:
        - {src: {dependencyName: order, dataKey: body.id}, dest: order}
`, port, hook.URL)
	if err := os.WriteFile(filepath.Join(dir, "events.yaml"), []byte(manifests), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Paths: []string{dir}, DataDir: t.TempDir(), BrokerAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()
	if !strings.Contains(strings.Join(s.Endpoints, "\n"), "POST http://127.0.0.1:"+port+"/orders") {
		t.Errorf("endpoints %v", s.Endpoints)
	}
	post := func(body string) {
		resp, err := http.Post("http://127.0.0.1:"+port+"/orders", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook answered %d", resp.StatusCode)
		}
	}
	post(`{"id": "small", "amount": 5}`)
	post(`{"id": "big", "amount": 250}`)
	select {
	case body := <-got:
		if body["order"] != "big" {
			t.Errorf("trigger called with %v", body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the sensor's trigger was not called")
	}
	select {
	case body := <-got:
		t.Errorf("the filtered-out order called the trigger: %v", body)
	case <-time.After(300 * time.Millisecond):
	}
}
