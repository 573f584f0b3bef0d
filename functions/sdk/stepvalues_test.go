package sdk_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// runEvent is a step.run event of run.
func runEvent(t *testing.T, run events.StepRun) event.Event {
	t.Helper()
	e := event.New()
	e.SetID(run.UID + "/" + run.NodeID + "/0")
	e.SetType(events.TypeStepRun)
	e.SetSource("/zeroflow/controller")
	if err := e.SetData(event.ApplicationJSON, run); err != nil {
		t.Fatal(err)
	}
	return e
}

func put(t *testing.T, store sdk.Artifacts, ns, value string) v1alpha1.ValueRef {
	t.Helper()
	ref, err := sdk.PutValue(context.Background(), store, ns, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// An offloaded input reaches the step as if it had been inline: in.Param
// and every tag the engine left in the template.
func TestStepResolvesOffloadedValues(t *testing.T) {
	store := sdk.DirArtifacts{Dir: t.TempDir()}
	big := strings.Repeat("record,", 20000) // 140 KB
	ref := put(t, store, "default", big)
	other := put(t, store, "default", "global value")
	run := events.StepRun{Workflow: "wf", Namespace: "default", UID: "u", NodeID: "main", Template: v1alpha1.Template{
		Name:   "parse",
		Inputs: v1alpha1.Inputs{Parameters: []v1alpha1.Parameter{{Name: "payload", ValueRef: &ref}, {Name: "small", Value: v1alpha1.ParseAnyString("s")}}},
		Function: &v1alpha1.FunctionTemplate{Name: "parse",
			Payload: `{"p": "{{inputs.parameters.payload}}", "g": "{{ workflow.parameters.payload }}", "s": "{{inputs.parameters.payloadx}}"}`},
	}, Refs: map[string]v1alpha1.ValueRef{"inputs.parameters.payload": ref, "workflow.parameters.payload": other}}
	var got sdk.StepInput
	h := sdk.Step(func(_ context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		got = in
		return sdk.StepOutput{}, nil
	}, sdk.StepOptions{Artifacts: store})
	r := result(t, must(h.Handle(context.Background(), runEvent(t, run))))
	if r.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("%s: %s", r.Phase, r.Message)
	}
	if got.Param("payload") != big || got.Param("small") != "s" {
		t.Errorf("param payload has %d bytes, small %q", len(got.Param("payload")), got.Param("small"))
	}
	want := `{"p": "` + big + `", "g": "global value", "s": "{{inputs.parameters.payloadx}}"}`
	if got.Payload() != want {
		t.Errorf("payload %.200q…", got.Payload())
	}
	if got.Template.Inputs.Parameters[0].ValueRef != nil || len(got.Refs) != 0 {
		t.Errorf("the step still sees references: %+v %v", got.Template.Inputs.Parameters[0], got.Refs)
	}
}

func must(e *event.Event, err error) *event.Event {
	if err != nil {
		panic(err)
	}
	return e
}

// A reference is input from the engine, and what it names could have been
// changed in the store: each bad one ends the step in Error naming the
// parameter and the key, and the step is not run.
func TestStepRefusesBadReferences(t *testing.T) {
	dir := t.TempDir()
	store := sdk.DirArtifacts{Dir: dir}
	good := put(t, store, "default", "the value")
	otherNS := put(t, store, "other", "another namespace's secret")
	tampered := put(t, store, "default", "original")
	if err := os.WriteFile(filepath.Join(dir, tampered.Key), []byte("changed!"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := put(t, store, "default", strings.Repeat("x", 2000))
	dotdot := good
	dotdot.Key = "offload/default/../other/sha256/" + strings.TrimPrefix(otherNS.Digest, "sha256:")
	lying := good
	lying.Size = 3
	missing := good
	missing.Digest = "sha256:" + strings.Repeat("0", 64)
	missing.Key = sdk.OffloadKey("default", missing.Digest)
	for name, c := range map[string]struct {
		ref  v1alpha1.ValueRef
		want string
	}{
		"another namespace's key": {otherNS, "not namespace default's key"},
		"a digest mismatch":       {tampered, "want 8 bytes with " + tampered.Digest},
		"over the max":            {big, "more than the limit of 1000"},
		"a .. key":                {dotdot, "not namespace default's key"},
		"a size that lies":        {lying, "want 3 bytes"},
		"a missing object":        {missing, "not found"},
	} {
		for _, as := range []string{"parameter", "tag"} {
			t.Run(name+" as a "+as, func(t *testing.T) {
				run := events.StepRun{Workflow: "wf", Namespace: "default", UID: "u", NodeID: "main", Template: v1alpha1.Template{Name: "t",
					Function: &v1alpha1.FunctionTemplate{Name: "f", Payload: "{{workflow.parameters.p}}"}}}
				what := "{{workflow.parameters.p}}"
				if as == "parameter" {
					ref := c.ref
					run.Template.Inputs.Parameters = []v1alpha1.Parameter{{Name: "p", ValueRef: &ref}}
					what = "input parameter p"
				} else {
					run.Refs = map[string]v1alpha1.ValueRef{"workflow.parameters.p": c.ref}
				}
				called := false
				h := sdk.Step(func(context.Context, sdk.StepInput) (sdk.StepOutput, error) {
					called = true
					return sdk.StepOutput{}, nil
				}, sdk.StepOptions{Artifacts: store, Offload: &sdk.OffloadLimits{Threshold: 100, MaxValue: 1000}})
				r := result(t, must(h.Handle(context.Background(), runEvent(t, run))))
				if r.Phase != v1alpha1.NodeError || !strings.Contains(r.Message, what) || !strings.Contains(r.Message, c.ref.Key) || !strings.Contains(r.Message, c.want) {
					t.Errorf("%s %q, want Error naming %s, %s and %q", r.Phase, r.Message, what, c.ref.Key, c.want)
				}
				if called {
					t.Errorf("the step ran with a bad reference")
				}
			})
		}
	}
}

// Outputs above the threshold go to the store; the result carries
// references the next step can load, and small outputs stay inline.
func TestStepOffloadsLargeOutputs(t *testing.T) {
	store := sdk.DirArtifacts{Dir: t.TempDir()}
	big := strings.Repeat("a", 101)
	res := strings.Repeat("r", 200)
	returned := map[string]string{"big": big, "small": "s", "edge": strings.Repeat("e", 100)}
	h := sdk.Step(func(context.Context, sdk.StepInput) (sdk.StepOutput, error) {
		return sdk.StepOutput{Parameters: returned, Result: &res}, nil
	}, sdk.StepOptions{Artifacts: store, Offload: &sdk.OffloadLimits{Threshold: 100, MaxValue: 1000}})
	r := result(t, must(h.Handle(context.Background(), runEvent(t, events.StepRun{Workflow: "wf", Namespace: "default", UID: "u", NodeID: "main", Template: v1alpha1.Template{Name: "t"}}))))
	if r.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("%s %s", r.Phase, r.Message)
	}
	o := r.Outputs
	if o.Parameters["small"] != "s" || o.Parameters["edge"] != returned["edge"] || o.Parameters["big"] != "" || o.Result != nil {
		t.Errorf("inline outputs %v result %v", o.Parameters, o.Result)
	}
	for name, c := range map[string]struct {
		ref  *v1alpha1.ValueRef
		want string
	}{"big": {refOf(o.ParameterRefs, "big"), big}, "result": {o.ResultRef, res}} {
		if c.ref == nil {
			t.Errorf("%s: no reference (%+v)", name, o)
			continue
		}
		b, err := sdk.GetValue(context.Background(), store, "default", *c.ref, 1000)
		if err != nil || string(b) != c.want {
			t.Errorf("%s: %q %v", name, b, err)
		}
	}
	if len(returned) != 3 {
		t.Errorf("the step's own map was changed: %v", returned)
	}

	// Without a store a large output cannot be carried: Error, saying why.
	t.Setenv(sdk.EnvArtifacts, "")
	h = sdk.Step(func(context.Context, sdk.StepInput) (sdk.StepOutput, error) {
		return sdk.StepOutput{Parameters: map[string]string{"big": big}}, nil
	}, sdk.StepOptions{Artifacts: nil, Offload: &sdk.OffloadLimits{Threshold: 100, MaxValue: 1000}})
	r = result(t, must(h.Handle(context.Background(), runEvent(t, events.StepRun{Workflow: "wf", Namespace: "default", UID: "u", NodeID: "main", Template: v1alpha1.Template{Name: "t"}}))))
	if r.Phase != v1alpha1.NodeError || !strings.Contains(r.Message, "output parameter big") || r.Outputs != nil {
		t.Errorf("no store: %s %q %+v", r.Phase, r.Message, r.Outputs)
	}
}

func refOf(m map[string]v1alpha1.ValueRef, k string) *v1alpha1.ValueRef {
	if r, ok := m[k]; ok {
		return &r
	}
	return nil
}
