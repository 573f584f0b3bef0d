package main

import (
	"context"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/functions/sdk/sdktest"
)

func TestHandle(t *testing.T) {
	for _, c := range []struct{ payload, records, count string }{
		{`{"batch": 1, "message": "hi"}`, `[{"batch":1,"message":"hi"}]`, "1"},
		{`{"records": [{"a": 1}, {"a": 2}]}`, `[{"a":1},{"a":2}]`, "2"},
	} {
		out, err := Handle(context.Background(), sdktest.Input(map[string]string{"payload": c.payload}))
		if err != nil {
			t.Fatalf("%s: %v", c.payload, err)
		}
		if out.Parameters["records"] != c.records || out.Parameters["count"] != c.count {
			t.Errorf("%s: %v", c.payload, out.Parameters)
		}
	}
	if _, err := Handle(context.Background(), sdktest.Input(map[string]string{"payload": "not json"})); err == nil {
		t.Errorf("a payload that is not JSON must fail the step")
	}
}

// A batch above the offload threshold reaches parse by reference (the
// sensor and the engine carry a ValueRef): the SDK loads it before Handle
// runs, and the records, too large to return inline, go back by reference.
func TestHandleReadsALargeBatchThroughItsReference(t *testing.T) {
	store := sdk.DirArtifacts{Dir: t.TempDir()}
	batch := `{"records": [` + strings.Repeat(`{"level": "info", "message": "a line of a large batch"},`, 20000) + `{"level": "error"}]}`
	ref, err := sdk.PutValue(context.Background(), store, "default", []byte(batch))
	if err != nil {
		t.Fatal(err)
	}
	run := events.StepRun{Workflow: "wf", Namespace: "default", UID: "u", NodeID: "wf.parse", Template: v1alpha1.Template{Name: "parse",
		Inputs: v1alpha1.Inputs{Parameters: []v1alpha1.Parameter{{Name: "payload", ValueRef: &ref}}}}}
	e := event.New()
	e.SetID("u/wf.parse/0")
	e.SetType(events.TypeStepRun)
	e.SetSource("/test")
	if err := e.SetData(event.ApplicationJSON, run); err != nil {
		t.Fatal(err)
	}
	reply, err := sdk.Step(Handle, sdk.StepOptions{Artifacts: store}).Handle(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	var res events.StepResult
	if err := reply.DataAs(&res); err != nil || res.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("%+v %v", res, err)
	}
	if res.Outputs.Parameters["count"] != "20001" {
		t.Errorf("count %q", res.Outputs.Parameters["count"])
	}
	records, ok := res.Outputs.ParameterRefs["records"]
	if !ok {
		t.Fatalf("records not offloaded: %+v", res.Outputs)
	}
	b, err := sdk.GetValue(context.Background(), store, "default", records, sdk.DefaultMaxOffloadedValue)
	if err != nil || !strings.HasSuffix(string(b), `{"level":"error"}]`) {
		t.Errorf("records %.100q… %v", b, err)
	}
}
