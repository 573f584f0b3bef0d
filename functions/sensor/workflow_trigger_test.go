package sensor_test

import (
	"testing"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/events"
)

const submitSensor = `
metadata: {name: submit}
spec:
  dependencies:
  - {name: hook, eventSourceName: workflow-a-webhook, eventName: workflowA}
  triggers:
  - template:
      name: workflow-a
      argoWorkflow:
        operation: submit
        source:
          resource:
            apiVersion: argoproj.io/v1alpha1
            kind: Workflow
            metadata: {generateName: workflow-a-}
            spec:
              workflowTemplateRef: {name: wft-a-simple}
              arguments:
                parameters:
                - name: payload
        parameters:
        - src: {dependencyName: hook, dataKey: body}
          dest: spec.arguments.parameters.0.value
`

func submitted(t *testing.T, r *rig) (id string, wf events.WorkflowSubmit) {
	t.Helper()
	ev := r.nextSent(t)
	if ev.Type() != events.TypeWorkflowSubmit {
		t.Fatalf("sent %s, want %s", ev.Type(), events.TypeWorkflowSubmit)
	}
	if err := ev.DataAs(&wf); err != nil {
		t.Fatal(err)
	}
	return ev.ID(), wf
}

// The same event delivered twice submits once, also after a restart.
func TestWorkflowSubmitIsIdempotent(t *testing.T) {
	r := start(t, submitSensor, rigOptions{})
	body := map[string]any{"body": map[string]any{"batch": 7}}
	send(t, "workflow-a-webhook", "workflowA", "req-1", body)
	id, wf := submitted(t, r)
	w := wf.Workflow
	if w == nil || w.Namespace != "default" || len(w.Name) != len("workflow-a-")+10 || w.Name[:11] != "workflow-a-" {
		t.Fatalf("workflow %+v", w)
	}
	if got := w.Spec.Arguments.Parameters[0].ValueString(); got != `{"batch":7}` {
		t.Errorf("payload parameter %q, want the body", got)
	}
	if w.Labels["zeroflow.dev/sensor"] != "submit" || w.Labels["zeroflow.dev/trigger"] != "workflow-a" {
		t.Errorf("labels %v", w.Labels)
	}

	send(t, "workflow-a-webhook", "workflowA", "req-1", body)
	r.noneSent(t, 500*time.Millisecond)

	// After a restart, which forgets what the sensor saw, the same event
	// again is one the broker stored already (it keeps a source and id
	// for two minutes): nothing reaches the sensor, nothing is submitted.
	// Past that window the sensor submits again with the same id and
	// workflow name (TestSubmitIDIsTheFiringsOwn), which the controller
	// creates once.
	r.stop()
	r.startSensor(t)
	send(t, "workflow-a-webhook", "workflowA", "req-1", body)
	r.noneSent(t, 500*time.Millisecond)

	send(t, "workflow-a-webhook", "workflowA", "req-2", body)
	id3, wf3 := submitted(t, r)
	if id3 == id || wf3.Workflow.Name == w.Name {
		t.Errorf("a new event reused submit %s / workflow %s", id3, wf3.Workflow.Name)
	}
}

// With an AND condition the consumed events are remembered in the status,
// so a redelivery submits nothing, even after a restart.
func TestWorkflowSubmitWithAndConditionIsIdempotentAcrossRestarts(t *testing.T) {
	r := start(t, `
metadata: {name: submit-and}
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
            metadata: {generateName: ab-}
            spec: {workflowTemplateRef: {name: wft-a-simple}}
`, rigOptions{})
	send(t, "src", "a", "a-1", map[string]int{"x": 1})
	waitFor(t, "a to wait", func() bool { return r.waiting(t, "run")["a"] == "a-1" })
	send(t, "src", "b", "b-1", map[string]int{"x": 2})
	submitted(t, r)
	// A redelivery that arrives while the firing is still claimed fires the
	// claim again (at least once; the submit id is the same, so the
	// controller makes one run). Once the firing is done, it fires nothing.
	waitFor(t, "the firing to be done", func() bool {
		for _, ts := range r.status(t).Triggers {
			if ts.Name == "run" {
				return len(ts.Pending) == 0
			}
		}
		return false
	})
	send(t, "src", "b", "b-1", map[string]int{"x": 2})
	r.noneSent(t, 500*time.Millisecond)
	r.stop()
	r.startSensor(t)
	send(t, "src", "a", "a-1", map[string]int{"x": 1})
	send(t, "src", "b", "b-1", map[string]int{"x": 2})
	r.noneSent(t, 500*time.Millisecond)
	if w := r.waiting(t, "run"); len(w) != 0 {
		t.Errorf("redelivered events wait again: %v", w)
	}
}
