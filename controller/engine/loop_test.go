package engine_test

import (
	"testing"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

// dispatchedInput checks the value of input x of the dispatch of node id.
func dispatchedInput(id, name, want string) func(*testing.T, engine.Outcome) {
	return func(t *testing.T, o engine.Outcome) {
		t.Helper()
		for _, d := range o.Dispatch {
			if d.NodeID != id {
				continue
			}
			for _, p := range d.Template.Inputs.Parameters {
				if p.Name == name {
					if p.ValueString() != want {
						t.Errorf("dispatch %s: inputs.parameters.%s = %q, want %q", id, name, p.ValueString(), want)
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

func checks(fns ...func(*testing.T, engine.Outcome)) func(*testing.T, engine.Outcome) {
	return func(t *testing.T, o engine.Outcome) {
		t.Helper()
		for _, f := range fns {
			f(t, o)
		}
	}
}

func nodeOutput(id, name, want string) func(*testing.T, engine.Outcome) {
	return func(t *testing.T, o engine.Outcome) {
		t.Helper()
		n := o.Status.Nodes[id]
		if n.Outputs == nil || n.Outputs.Parameters[name] != want {
			t.Errorf("node %s outputs.parameters.%s = %v, want %q", id, name, n.Outputs, want)
		}
	}
}

func TestLoops(t *testing.T) {
	runCases(t, []engineCase{
		{
			name: "withItems fans out and renders scalar and map items",
			wf: dagWF(`
- name: A
  template: echo
  withItems: [hello, 3, true, {name: jo, num: 2}]
  arguments: {parameters: [{name: x, value: "{{item}}"}]}
- name: B
  template: echo
  withItems: [{name: jo, num: 2}]
  arguments: {parameters: [{name: x, value: "{{item.name}}-{{item.num}}"}]}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A(0)", "main.A(1)", "main.A(2)", "main.A(3)", "main.B(0)"},
					nodes: P("main=Running", "main.A=Running", "main.A(0)=Running", "main.A(1)=Running", "main.A(2)=Running", "main.A(3)=Running", "main.B=Running", "main.B(0)=Running"),
					check: checks(dispatchedInput("main.A(0)", "x", "hello"), dispatchedInput("main.A(1)", "x", "3"), dispatchedInput("main.A(2)", "x", "true"),
						dispatchedInput("main.A(3)", "x", `{"name":"jo","num":2}`), dispatchedInput("main.B(0)", "x", "jo-2"))},
			},
		},
		{
			name: "loop outputs aggregate into JSON lists in item order",
			wf: dagWF(`
- name: A
  template: fn
  withItems: [a, b, c]
- name: B
  template: echo
  dependencies: [A]
  arguments: {parameters: [{name: x, value: "{{tasks.A.outputs.result}}|{{tasks.A.outputs.parameters.p}}|{{tasks.A.outputs.parameters}}"}]}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A(0)", "main.A(1)", "main.A(2)"}},
				{in: result("main.A(2)", 0, v1alpha1.NodeSucceeded, "", &v1alpha1.NodeOutputs{Result: ptr(`{"k":3}`), Parameters: map[string]string{"p": "3"}})},
				{in: result("main.A(0)", 0, v1alpha1.NodeSucceeded, "", &v1alpha1.NodeOutputs{Result: ptr("one"), Parameters: map[string]string{"p": "1"}})},
				{in: result("main.A(1)", 0, v1alpha1.NodeSucceeded, "", &v1alpha1.NodeOutputs{Result: ptr("2"), Parameters: map[string]string{"p": "2"}}),
					dispatch: []string{"main.B"},
					check:    dispatchedInput("main.B", "x", `["one",2,{"k":3}]|["1","2","3"]|[{"p":"1"},{"p":"2"},{"p":"3"}]`)},
			},
		},
		{
			name: "aggregated parameters that are all JSON objects stay objects",
			wf: dagWF(`
- {name: A, template: fn, withItems: [1, 2]}
- name: B
  template: echo
  dependencies: [A]
  arguments: {parameters: [{name: x, value: "{{tasks.A.outputs.parameters.p}}"}]}`),
			steps: []step{
				{in: submit()},
				{in: okParams("main.A(0)", `p={"i":0}`)},
				{in: okParams("main.A(1)", `p={"i":1}`), check: dispatchedInput("main.B", "x", `[{"i":0},{"i":1}]`)},
			},
		},
		{
			name: "withParam expands a JSON list from another task",
			wf: dagWF(`
- {name: gen, template: fn}
- name: use
  template: echo
  dependencies: [gen]
  withParam: "{{tasks.gen.outputs.result}}"
  arguments: {parameters: [{name: x, value: "{{item.id}}"}]}`),
			steps: []step{
				{in: submit()},
				{in: okResult("main.gen", `[{"id":"a"},{"id":"b"}]`), dispatch: []string{"main.use(0)", "main.use(1)"},
					check: checks(dispatchedInput("main.use(0)", "x", "a"), dispatchedInput("main.use(1)", "x", "b"))},
				{in: ok("main.use(0)")},
				{in: ok("main.use(1)"), finished: Succeeded},
			},
		},
		{
			name: "withParam that is not a JSON list errors the task",
			wf: dagWF(`
- {name: gen, template: fn}
- {name: use, template: fn, dependencies: [gen], withParam: "{{tasks.gen.outputs.result}}"}`),
			steps: []step{
				{in: submit()},
				{in: okResult("main.gen", "not json"), nodes: P("main=Error", "main.gen=Succeeded", "main.use=Error"), finished: Errored,
					nodeMessages: map[string]string{"main.use": "withParam value could not be parsed as a JSON list: not json"}},
			},
		},
		{
			name: "an empty loop is skipped and its dependents run",
			wf: dagWF(`
- {name: gen, template: fn}
- {name: each, template: fn, dependencies: [gen], withParam: "{{tasks.gen.outputs.result}}"}
- {name: after, template: fn, dependencies: [each]}`),
			steps: []step{
				{in: submit()},
				{in: okResult("main.gen", "[]"), nodes: P("main=Running", "main.gen=Succeeded", "main.each=Skipped", "main.after=Running"),
					nodeMessages: map[string]string{"main.each": "Skipped, empty params"}},
				{in: ok("main.after"), finished: Succeeded},
			},
		},
		{
			name: "withSequence counts with a format",
			wf: dagWF(`
- name: A
  template: echo
  withSequence: {count: "3", start: "8", format: "n%02d"}
  arguments: {parameters: [{name: x, value: "{{item}}"}]}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A(0)", "main.A(1)", "main.A(2)"},
					check: checks(dispatchedInput("main.A(0)", "x", "n08"), dispatchedInput("main.A(2)", "x", "n10"))},
			},
		},
		{
			name: "withSequence runs backwards from start to end",
			wf: dagWF(`
- name: A
  template: echo
  withSequence: {start: "3", end: "1"}
  arguments: {parameters: [{name: x, value: "{{item}}"}]}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A(0)", "main.A(1)", "main.A(2)"},
					check: checks(dispatchedInput("main.A(0)", "x", "3"), dispatchedInput("main.A(2)", "x", "1"))},
			},
		},
		{
			name: "a failed item fails the group and its bare dependents are omitted",
			wf: dagWF(`
- {name: A, template: fn, withItems: [1, 2]}
- {name: B, template: fn, dependencies: [A]}`),
			steps: []step{
				{in: submit()},
				{in: fail("main.A(0)"), nodes: P("main=Running", "main.A=Running", "main.A(0)=Failed", "main.A(1)=Running")},
				{in: ok("main.A(1)"), nodes: P("main=Failed", "main.A=Failed", "main.A(0)=Failed", "main.A(1)=Succeeded", "main.B=Omitted"), finished: Failed,
					nodeMessages: map[string]string{"main.A": "child 'main.A(0)' failed"}},
			},
		},
		{
			name: "AnySucceeded runs after a partly failed loop",
			wf: dagWF(`
- {name: A, template: fn, withItems: [1, 2, 3]}
- {name: B, template: fn, depends: A.AnySucceeded}`),
			steps: []step{
				{in: submit()},
				{in: fail("main.A(0)")},
				{in: ok("main.A(1)")},
				{in: fail("main.A(2)"), dispatch: []string{"main.B"}},
				{in: ok("main.B"), finished: Succeeded},
			},
		},
		{
			name: "AllFailed is false when one item errored",
			wf: dagWF(`
- {name: A, template: fn, withItems: [1, 2]}
- {name: B, template: fn, depends: A.AllFailed}
- {name: C, template: fn, depends: A.Errored}`),
			steps: []step{
				{in: submit()},
				{in: fail("main.A(0)")},
				{in: errored("main.A(1)"), nodes: P("main=Running", "main.A=Error", "main.A(0)=Failed", "main.A(1)=Error", "main.B=Omitted", "main.C=Running")},
			},
		},
		{
			name: "AllFailed runs when every item failed",
			wf: dagWF(`
- {name: A, template: fn, withItems: [1, 2]}
- {name: B, template: fn, depends: A.AllFailed}`),
			steps: []step{
				{in: submit()},
				{in: fail("main.A(0)")},
				{in: fail("main.A(1)"), dispatch: []string{"main.B"}},
				{in: ok("main.B"), finished: Succeeded},
			},
		},
		{
			name: "per-item when skips some items",
			wf: dagWF(`
- name: A
  template: echo
  withItems: [1, 2, 3]
  when: "{{item}} != 2"
  arguments: {parameters: [{name: x, value: "{{item}}"}]}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A(0)", "main.A(2)"}, nodes: P("main=Running", "main.A=Running", "main.A(0)=Running", "main.A(1)=Skipped", "main.A(2)=Running")},
				{in: ok("main.A(0)")},
				{in: ok("main.A(2)"), finished: Succeeded},
			},
		},
		{
			name: "loop items respect template parallelism",
			wf: `
spec:
  entrypoint: main
  templates:
  - name: main
    parallelism: 2
    dag:
      tasks:
      - {name: A, template: fn, withItems: [1, 2, 3, 4, 5]}
` + leaves,
			steps: []step{
				{in: submit(), dispatch: []string{"main.A(0)", "main.A(1)"}},
				{in: ok("main.A(1)"), dispatch: []string{"main.A(2)"}},
				{in: ok("main.A(0)"), dispatch: []string{"main.A(3)"}},
				{in: ok("main.A(2)"), dispatch: []string{"main.A(4)"}},
				{in: ok("main.A(3)"), dispatch: none},
				{in: ok("main.A(4)"), finished: Succeeded},
			},
		},
		{
			name: "template failFast stops starting loop items",
			wf: `
spec:
  entrypoint: main
  templates:
  - name: main
    parallelism: 1
    failFast: true
    dag:
      tasks:
      - {name: A, template: fn, withItems: [1, 2, 3]}
` + leaves,
			steps: []step{
				{in: submit(), dispatch: []string{"main.A(0)"}},
				{in: fail("main.A(0)"), dispatch: none, nodes: P("main=Failed", "main.A=Failed", "main.A(0)=Failed"), finished: Failed,
					nodeMessages: map[string]string{"main.A": "template has failed or errored children and failFast enabled"}},
			},
		},
		{
			name: "without template failFast the other items go on",
			wf: `
spec:
  entrypoint: main
  templates:
  - name: main
    parallelism: 1
    dag:
      tasks:
      - {name: A, template: fn, withItems: [1, 2]}
` + leaves,
			steps: []step{
				{in: submit(), dispatch: []string{"main.A(0)"}},
				{in: fail("main.A(0)"), dispatch: []string{"main.A(1)"}},
				{in: ok("main.A(1)"), finished: Failed},
			},
		},
		{
			name: "a loop over a nested dag",
			wf: dagWF(`
- name: A
  template: pair
  withItems: [p, q]
  arguments: {parameters: [{name: x, value: "{{item}}"}]}`, "", `
- name: pair
  inputs: {parameters: [{name: x}]}
  dag:
    tasks:
    - {name: first, template: echo, arguments: {parameters: [{name: x, value: "{{inputs.parameters.x}}1"}]}}
    - {name: second, template: echo, dependencies: [first], arguments: {parameters: [{name: x, value: "{{inputs.parameters.x}}2"}]}}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A(0).first", "main.A(1).first"}, check: dispatchedInput("main.A(1).first", "x", "q1")},
				{in: ok("main.A(1).first"), dispatch: []string{"main.A(1).second"}, check: dispatchedInput("main.A(1).second", "x", "q2")},
				{in: ok("main.A(0).first")},
				{in: ok("main.A(0).second")},
				{in: ok("main.A(1).second"), finished: Succeeded},
			},
		},
	})
}

func ptr(s string) *string { return &s }
