package engine_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

// bigRef is what an offloaded 10 MB value looks like to the engine.
var bigRef = v1alpha1.ValueRef{Key: "offload/default/sha256/" + strings.Repeat("ab", 32), Size: 10 << 20, Digest: "sha256:" + strings.Repeat("ab", 32)}

func okRefs(id string, kv ...string) Input {
	refs := map[string]v1alpha1.ValueRef{}
	for _, name := range kv {
		refs[name] = bigRef
	}
	return result(id, 0, v1alpha1.NodeSucceeded, "", &v1alpha1.NodeOutputs{ParameterRefs: refs})
}

// dispatchedRef checks that dispatch id gets input name as a reference.
func dispatchedRef(id, name string) func(*testing.T, engine.Outcome) {
	return func(t *testing.T, o engine.Outcome) {
		t.Helper()
		for _, d := range o.Dispatch {
			if d.NodeID != id {
				continue
			}
			for _, p := range d.Template.Inputs.Parameters {
				if p.Name == name {
					if p.ValueRef == nil || *p.ValueRef != bigRef || p.Value != nil {
						t.Errorf("dispatch %s: inputs.parameters.%s = value %v, ref %v; want the reference only", id, name, p.Value, p.ValueRef)
					}
					return
				}
			}
			t.Errorf("dispatch %s has no input %s", id, name)
			return
		}
		t.Errorf("no dispatch of %s", id)
	}
}

// statusBelow checks the stored status stays small whatever the values.
func statusBelow(limit int) func(*testing.T, engine.Outcome) {
	return func(t *testing.T, o engine.Outcome) {
		t.Helper()
		b, _ := json.Marshal(o.Status)
		if len(b) > limit {
			t.Errorf("status is %d bytes, want at most %d", len(b), limit)
		}
	}
}

func TestOffloadedValues(t *testing.T) {
	refYAML := `{key: "` + bigRef.Key + `", size: ` + "10485760" + `, digest: "` + bigRef.Digest + `"}`
	runCases(t, []engineCase{
		{
			name: "an offloaded argument and offloaded outputs pass by reference across three levels",
			wf: `
spec:
  entrypoint: main
  arguments:
    parameters: [{name: payload, valueRef: ` + refYAML + `}]
  templates:
  - name: main
    dag:
      tasks:
      - name: outer
        template: middle
        arguments: {parameters: [{name: p, value: "{{workflow.parameters.payload}}"}]}
      - name: last
        template: echo
        depends: outer
        arguments: {parameters: [{name: x, value: "{{tasks.outer.outputs.parameters.records}}"}]}
  - name: middle
    inputs: {parameters: [{name: p}]}
    outputs:
      parameters:
      - name: records
        valueFrom: {parameter: "{{tasks.parse.outputs.parameters.records}}"}
    dag:
      tasks:
      - name: parse
        template: parse
        arguments: {parameters: [{name: payload, value: "{{inputs.parameters.p}}"}]}
  - name: parse
    inputs: {parameters: [{name: payload}]}
    outputs: {parameters: [{name: records}, {name: count}]}
    function: {name: parse}
` + leaves,
			steps: []step{
				{in: submit(), dispatch: []string{"main.outer.parse"}, check: checks(dispatchedRef("main.outer.parse", "payload"), statusBelow(2048))},
				{in: result("main.outer.parse", 0, v1alpha1.NodeSucceeded, "", &v1alpha1.NodeOutputs{Parameters: map[string]string{"count": "3"}, ParameterRefs: map[string]v1alpha1.ValueRef{"records": bigRef}}),
					dispatch: []string{"main.last"},
					check: checks(dispatchedRef("main.last", "x"), statusBelow(4096), func(t *testing.T, o engine.Outcome) {
						if got := o.Status.Nodes["main.outer"].Outputs; got == nil || got.ParameterRefs["records"] != bigRef {
							t.Errorf("main.outer outputs = %+v, want records by reference", got)
						}
					})},
				{in: ok("main.last"), finished: Succeeded},
			},
		},
		{
			name: "a step's template keeps the tag of an offloaded input as written, for the SDK to substitute",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: body, depends: A, arguments: {parameters: [{name: big, value: "{{tasks.A.outputs.result}}"}, {name: small, value: "s"}]}}`, "", `
- name: body
  inputs: {parameters: [{name: big}, {name: small}]}
  http: {url: "http://echo/{{inputs.parameters.small}}", method: POST, body: '{"data": {{inputs.parameters.big}}, "wf": "{{workflow.name}}"}'}`),
			steps: []step{
				{in: submit()},
				{in: result("main.A", 0, v1alpha1.NodeSucceeded, "", &v1alpha1.NodeOutputs{ResultRef: &bigRef}), dispatch: []string{"main.B"},
					check: func(t *testing.T, o engine.Outcome) {
						d := o.Dispatch[0]
						if d.Template.HTTP.Body != `{"data": {{inputs.parameters.big}}, "wf": "wf"}` || d.Template.HTTP.URL != "http://echo/s" {
							t.Errorf("http = %+v", d.Template.HTTP)
						}
						if d.Refs["inputs.parameters.big"] != bigRef || len(d.Refs) != 1 {
							t.Errorf("refs = %v", d.Refs)
						}
					}},
			},
		},
		{
			name: "an offloaded value inside a larger argument errors the task with the reason",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: echo, depends: A, arguments: {parameters: [{name: x, value: "prefix-{{tasks.A.outputs.parameters.big}}"}]}}`, "", ""),
			steps: []step{
				{in: submit()},
				{in: okRefs("main.A", "big"), finished: Errored, nodeMessages: map[string]string{"main.B": "offloaded to the artifact store"}},
			},
		},
		{
			name: "an expression over an offloaded value errors the task instead of seeing nothing",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: echo, depends: A, arguments: {parameters: [{name: x, value: "{{= tasks.A.outputs.parameters.big }}"}]}}`, "", ""),
			steps: []step{
				{in: submit()},
				{in: okRefs("main.A", "big"), finished: Errored, nodeMessages: map[string]string{"main.B": "tasks.A.outputs.parameters.big}} is a value of 10485760 bytes, offloaded"}},
			},
		},
		{
			name: "a loop's aggregate over an offloaded item's output says why it cannot be built",
			wf: dagWF(`
- {name: fan, template: fn, withItems: [a, b]}
- {name: B, template: echo, depends: fan, arguments: {parameters: [{name: x, value: "{{tasks.fan.outputs.parameters.big}}"}]}}`, "", ""),
			steps: []step{
				{in: submit()},
				{in: okRefs("main.fan(0)", "big")},
				{in: okParams("main.fan(1)", "big=small"), finished: Errored, nodeMessages: map[string]string{"main.B": "item 0's outputs.parameters.big is offloaded"}},
			},
		},
		{
			name: "a global output can be offloaded and is read by reference",
			wf: dagWF(`
- {name: A, template: gen-global}
- {name: B, template: echo, depends: A, arguments: {parameters: [{name: x, value: "{{workflow.outputs.parameters.shared}}"}]}}`, "", `
- name: gen-global
  outputs: {parameters: [{name: big, globalName: shared}]}
  function: {name: gen}`),
			steps: []step{
				{in: submit()},
				{in: okRefs("main.A", "big"), dispatch: []string{"main.B"}, check: checks(dispatchedRef("main.B", "x"), func(t *testing.T, o engine.Outcome) {
					if o.Status.Outputs == nil || o.Status.Outputs.Parameters[0].ValueRef == nil {
						t.Errorf("status.outputs = %+v", o.Status.Outputs)
					}
				})},
			},
		},
		{
			name: "a result both inline and offloaded errors the node",
			wf:   dagWF(`- {name: A, template: fn}`),
			steps: []step{
				{in: submit()},
				{in: result("main.A", 0, v1alpha1.NodeSucceeded, "", &v1alpha1.NodeOutputs{Parameters: map[string]string{"x": "1"}, ParameterRefs: map[string]v1alpha1.ValueRef{"x": bigRef}}),
					finished: Errored, nodeMessages: map[string]string{"main.A": "both inline and offloaded"}},
			},
		},
		{
			name:    "value and valueRef together are invalid",
			invalid: true,
			wf: `
spec:
  entrypoint: main
  arguments:
    parameters: [{name: payload, value: x, valueRef: ` + refYAML + `}]
  templates:
  - {name: main, function: {name: fn}}`,
		},
	})
}

// A 10,000-item fan-out whose items all return a 10 MB value holds only
// references: about 270 bytes per node whatever the values' size (the
// values would be 100 GB). That is 2.7 MB for 10,000 nodes, above etcd's
// request limit: such a run is stopped by the controller's status bound
// with the reason (docs/workflows.md); keeping node statuses off the API,
// as Argo's node status offload does, is not done yet.
func TestFanOutOfOffloadedOutputsStaysSmall(t *testing.T) {
	wf := parseWorkflow(t, dagWF(`
- name: fan
  template: fn
  withSequence: {count: "10000"}`))
	e := engine.New()
	run := engine.RunOf(wf)
	out, err := e.Advance(run, engine.Input{Kind: engine.Submit}, t0)
	if err != nil {
		t.Fatal(err)
	}
	run.Status = out.Status
	for i, d := range out.Dispatch {
		res := engine.Result{NodeID: d.NodeID, Attempt: 0, Phase: v1alpha1.NodeSucceeded, Outputs: &v1alpha1.NodeOutputs{ParameterRefs: map[string]v1alpha1.ValueRef{"big": bigRef}}}
		if i%500 == 0 || i == len(out.Dispatch)-1 {
			o, err := e.Advance(run, engine.Input{Kind: engine.StepResult, Result: &res}, t0)
			if err != nil {
				t.Fatal(err)
			}
			run.Status = o.Status
			continue
		}
		n := run.Status.Nodes[d.NodeID]
		n.Phase, n.Outputs = v1alpha1.NodeSucceeded, res.Outputs
		run.Status.Nodes[d.NodeID] = n
	}
	b, _ := json.Marshal(run.Status)
	if len(out.Dispatch) != 10000 || len(b) > 300*10002 || run.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Fatalf("%d dispatches, status %d bytes (%d per node), phase %s", len(out.Dispatch), len(b), len(b)/10002, run.Status.Phase)
	}
	t.Logf("10,000 offloaded outputs: status %d bytes", len(b))
}
