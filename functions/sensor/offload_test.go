package sensor_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// bigBody is a JSON object of about n bytes.
func bigBody(n int) map[string]any {
	return map[string]any{"records": strings.Repeat("GET /api 200;", n/13)}
}

// sendLarge posts an event the way the webhook does: through a Sender
// that offloads data above the threshold into the store the environment
// names.
func sendLarge(t *testing.T, eventSource, eventName, id string, data any) {
	t.Helper()
	ev := sourceEvent(eventSource, eventName, id, data)
	testSource(t, &ev)
	if err := sdk.NewSender(bus.Address("default", "default")).Send(context.Background(), ev); err != nil {
		t.Fatalf("send %s: %v", id, err)
	}
}

func loadRef(t *testing.T, ref *v1alpha1.ValueRef) []byte {
	t.Helper()
	store, err := sdk.ArtifactsFromEnv()
	if err != nil || store == nil {
		t.Fatalf("store: %v", err)
	}
	b, err := sdk.GetValue(context.Background(), store.(sdk.Artifacts), "default", *ref, sdk.DefaultMaxOffloadedValue)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A 3 MiB webhook body (three times the broker's limit) passes the filter
// and the sensor by reference; the submitted Workflow carries the body as
// a valueRef, so the submit event is small.
func TestLargeEventSubmitsAWorkflowByReference(t *testing.T) {
	t.Setenv(sdk.EnvArtifacts, t.TempDir())
	r := start(t, submitSensor, rigOptions{})
	body := bigBody(3 << 20)
	sendLarge(t, "workflow-a-webhook", "workflowA", "big-1", map[string]any{"body": body})
	ev := r.nextSent(t)
	if ev.Type() != events.TypeWorkflowSubmit {
		t.Fatalf("sent %s", ev.Type())
	}
	if _, ok := ev.Extensions()[events.ExtDataRef]; ok {
		t.Fatal("the submit event itself was offloaded: the workflow is large")
	}
	if n := len(ev.Data()); n > 16<<10 {
		t.Errorf("submit event of %d bytes", n)
	}
	var sub events.WorkflowSubmit
	if err := ev.DataAs(&sub); err != nil {
		t.Fatal(err)
	}
	p := sub.Workflow.Spec.Arguments.Parameters[0]
	if p.Value != nil || p.ValueRef == nil {
		t.Fatalf("parameter %s: value %v, valueRef %v; want only a valueRef", p.Name, p.Value != nil, p.ValueRef)
	}
	want, _ := json.Marshal(body)
	if got := loadRef(t, p.ValueRef); string(got) != string(want) {
		t.Errorf("offloaded value of %d bytes, want the body's %d", len(got), len(want))
	}
	if errs := v1alpha1.ValidateWorkflow(sub.Workflow); len(errs) > 0 {
		t.Errorf("submitted workflow invalid: %v", errs.ToAggregate())
	}
}

// An event that waits in an AND condition is kept in the status by
// reference: the status stays small, and the firing reads the data back.
func TestWaitingLargeEventIsKeptByReference(t *testing.T) {
	t.Setenv(sdk.EnvArtifacts, t.TempDir())
	r := start(t, `
metadata: {name: wait-large}
spec:
  dependencies:
  - {name: a, eventSourceName: src, eventName: a}
  - {name: b, eventSourceName: src, eventName: b}
  triggers:
  - template:
      name: run
      conditions: a && b
      workflow:
        source:
          resource:
            apiVersion: zeroflow.dev/v1alpha1
            kind: Workflow
            metadata: {generateName: wl-}
            spec:
              workflowTemplateRef: {name: wft-a-simple}
              arguments:
                parameters:
                - name: payload
        parameters:
        - src: {dependencyName: a, dataKey: records}
          dest: spec.arguments.parameters.0.value
`, rigOptions{})
	body := bigBody(1 << 20)
	sendLarge(t, "src", "a", "a-1", body)
	waitFor(t, "a to wait", func() bool { return r.waiting(t, "run")["a"] == "a-1" })
	for _, ts := range r.status(t).Triggers {
		for _, d := range ts.Dependencies {
			if n := len(d.Event.Raw); n > 8<<10 {
				t.Errorf("status keeps %d bytes of event %s", n, d.EventID)
			}
			if !strings.Contains(string(d.Event.Raw), events.ExtDataRef) {
				t.Errorf("status event %s has no reference: %.200s", d.EventID, d.Event.Raw)
			}
		}
	}
	sendLarge(t, "src", "b", "b-1", map[string]int{"x": 2})
	ev := r.nextSent(t)
	var sub events.WorkflowSubmit
	if err := ev.DataAs(&sub); err != nil {
		t.Fatal(err)
	}
	p := sub.Workflow.Spec.Arguments.Parameters[0]
	if p.ValueRef == nil {
		t.Fatalf("parameter not offloaded: %d bytes inline", len(p.ValueString()))
	}
	if got := string(loadRef(t, p.ValueRef)); got != body["records"] {
		t.Errorf("the firing's value is %d bytes, want the waiting event's %d", len(got), len(body["records"].(string)))
	}
}

// A 4xx other than 408 and 429 is not retried whatever the retryStrategy:
// one attempt, then the dlqTrigger. A 429 is retried.
func TestPermanentRefusalsAreNotRetried(t *testing.T) {
	refusing := newEndpoint(t, http.StatusBadRequest, http.StatusBadRequest, http.StatusBadRequest)
	busy := newEndpoint(t, http.StatusTooManyRequests)
	dead := newEndpoint(t)
	r := start(t, `
metadata: {name: no-retry-4xx}
spec:
  dependencies:
  - {name: dep, eventSourceName: src, eventName: e}
  triggers:
  - template:
      name: refused
      cloudEvent: {type: com.example.x, url: `+refusing.URL+`}
    retryStrategy: {steps: 3, duration: 10ms}
    dlqTrigger:
      template:
        name: dead
        http: {url: `+dead.URL+`}
  - template:
      name: busy
      cloudEvent: {type: com.example.y, url: `+busy.URL+`}
    retryStrategy: {steps: 3, duration: 10ms}
`, rigOptions{})
	send(t, "src", "e", "p-1", map[string]any{"a": 1})
	refusing.next(t)
	dead.next(t)
	refusing.none(t, 300*time.Millisecond)
	busy.next(t)
	busy.next(t)
	if !strings.Contains(r.logs.String(), "running its dlqTrigger") {
		t.Errorf("the failure was not logged:\n%s", r.logs)
	}
}

// A k8s trigger that creates a zeroflow Workflow offloads its large
// arguments too: the object in the API holds a valueRef.
func TestK8sCreatedWorkflowHoldsReferences(t *testing.T) {
	t.Setenv(sdk.EnvArtifacts, t.TempDir())
	start(t, `
metadata: {name: k8s-large}
spec:
  dependencies:
  - {name: dep, eventSourceName: src, eventName: e}
  triggers:
  - template:
      name: make
      k8s:
        operation: create
        source:
          resource:
            apiVersion: zeroflow.dev/v1alpha1
            kind: Workflow
            metadata: {name: k8s-large-run}
            spec:
              workflowTemplateRef: {name: wft-a-simple}
              arguments:
                parameters:
                - name: payload
                - {name: small, value: "1"}
        parameters:
        - src: {dependencyName: dep, dataKey: records}
          dest: spec.arguments.parameters.0.value
`, rigOptions{})
	body := bigBody(512 << 10)
	sendLarge(t, "src", "e", "k-1", body)
	wfs := dyn.Resource(v1alpha1.SchemeGroupVersion.WithResource("workflows")).Namespace("default")
	t.Cleanup(func() { _ = wfs.Delete(context.Background(), "k8s-large-run", metav1.DeleteOptions{}) })
	var wf v1alpha1.Workflow
	waitFor(t, "the workflow", func() bool {
		u, err := wfs.Get(context.Background(), "k8s-large-run", metav1.GetOptions{})
		if err != nil {
			return false
		}
		return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &wf) == nil
	})
	ps := wf.Spec.Arguments.Parameters
	if len(ps) != 2 || ps[0].ValueRef == nil || ps[0].Value != nil || ps[1].ValueString() != "1" {
		t.Fatalf("arguments %+v", ps)
	}
	if got := string(loadRef(t, ps[0].ValueRef)); got != body["records"] {
		t.Errorf("offloaded %d bytes", len(got))
	}
}
