package engine_test

import (
	"testing"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

func TestParameters(t *testing.T) {
	runCases(t, []engineCase{
		{
			name: "parameters pass across three levels and outputs come back up",
			wf: `
spec:
  entrypoint: main
  arguments:
    parameters: [{name: region, value: eu}]
  templates:
  - name: main
    dag:
      tasks:
      - name: outer
        template: middle
        arguments: {parameters: [{name: r, value: "{{workflow.parameters.region}}-1"}]}
      - name: report
        template: echo
        dependencies: [outer]
        arguments: {parameters: [{name: x, value: "{{tasks.outer.outputs.parameters.total}}"}]}
  - name: middle
    inputs: {parameters: [{name: r}]}
    outputs:
      parameters:
      - name: total
        valueFrom: {parameter: "{{tasks.inner.outputs.parameters.sum}}"}
    dag:
      tasks:
      - name: inner
        template: leaf
        arguments: {parameters: [{name: v, value: "{{inputs.parameters.r}}-2"}]}
  - name: leaf
    inputs: {parameters: [{name: v}]}
    outputs: {parameters: [{name: sum}]}
    function: {name: add, payload: "{{inputs.parameters.v}}-3"}
` + leaves,
			steps: []step{
				{in: submit(), dispatch: []string{"main.outer.inner"}, check: checks(
					dispatchedInput("main.outer.inner", "v", "eu-1-2"),
					func(t *testing.T, o engine.Outcome) {
						if got := o.Dispatch[0].Template.Function.Payload; got != "eu-1-2-3" {
							t.Errorf("payload = %q", got)
						}
						if o.Dispatch[0].Function != "add" {
							t.Errorf("function = %q", o.Dispatch[0].Function)
						}
					})},
				{in: okParams("main.outer.inner", "sum=42"), dispatch: []string{"main.report"},
					check: checks(nodeOutput("main.outer", "total", "42"), dispatchedInput("main.report", "x", "42"))},
				{in: ok("main.report"), finished: Succeeded},
			},
		},
		{
			name: "expression tags compute values",
			wf: dagWF(`
- {name: A, template: fn}
- name: B
  template: echo
  dependencies: [A]
  arguments: {parameters: [{name: x, value: "{{= asInt(tasks.A.outputs.parameters.n) * 2 }}/{{=jsonpath(tasks.A.outputs.result, '$.items[1].id')}}/{{= upper(workflow.name) }}"}]}`),
			steps: []step{
				{in: submit()},
				{in: result("main.A", 0, v1alpha1.NodeSucceeded, "", &v1alpha1.NodeOutputs{Parameters: map[string]string{"n": "21"}, Result: ptr(`{"items":[{"id":"a"},{"id":"b"}]}`)}),
					check: dispatchedInput("main.B", "x", "42/b/WF")},
			},
		},
		{
			name: "an expression error errors the task",
			wf: dagWF(`
- {name: A, template: echo, arguments: {parameters: [{name: x, value: "{{= asInt('seven') }}"}]}}`),
			steps: []step{
				{in: submit(), finished: Errored, nodeMessages: map[string]string{"main.A": "asInt(\"seven\"): not a number"}},
			},
		},
		{
			name:    "a missing input errors the task",
			invalid: true,
			wf: dagWF(`
- {name: A, template: echo}`),
			steps: []step{
				{in: submit(), finished: Errored, nodes: P("main=Error", "main.A=Error"), nodeMessages: map[string]string{"main.A": "inputs.parameters.x was not supplied"}},
			},
		},
		{
			name: "input defaults and enums",
			wf: dagWF(`
- {name: A, template: pick}
- {name: B, template: pick, arguments: {parameters: [{name: size, value: large}]}}
- {name: C, template: pick, arguments: {parameters: [{name: size, value: huge}]}}`, "", `
- name: pick
  inputs:
    parameters: [{name: size, default: small, enum: [small, large]}]
  function: {name: pick}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A", "main.B"}, check: checks(dispatchedInput("main.A", "size", "small"), dispatchedInput("main.B", "size", "large")),
					nodeMessages: map[string]string{"main.C": `inputs.parameters.size: "huge" is not one of [small large]`}},
			},
		},
		{
			name:    "a workflow parameter without a value errors the workflow",
			invalid: true,
			wf: dagWF(`
- {name: A, template: fn}`, "arguments: {parameters: [{name: region}]}"),
			steps: []step{
				{in: submit(), finished: Errored, message: "spec.arguments.parameters.region has no value", nodes: P()},
			},
		},
		{
			name: "numbers and booleans are accepted as parameter text",
			wf: dagWF(`
- {name: A, template: echo, arguments: {parameters: [{name: x, value: 1.50}]}}
- {name: B, template: echo, arguments: {parameters: [{name: x, value: true}]}}`),
			steps: []step{
				{in: submit(), check: checks(dispatchedInput("main.A", "x", "1.5"), dispatchedInput("main.B", "x", "true"))},
			},
		},
		{
			name: "globalName publishes an output to the workflow",
			wf: dagWF(`
- {name: A, template: producer}
- {name: B, template: echo, dependencies: [A], arguments: {parameters: [{name: x, value: "{{workflow.outputs.parameters.build-id}}"}]}}`, "", `
- name: producer
  outputs:
    parameters: [{name: id, globalName: build-id}]
  function: {name: producer}`),
			steps: []step{
				{in: submit()},
				{in: okParams("main.A", "id=b-17"), check: checks(dispatchedInput("main.B", "x", "b-17"), func(t *testing.T, o engine.Outcome) {
					if o.Status.Outputs == nil || len(o.Status.Outputs.Parameters) != 1 || o.Status.Outputs.Parameters[0].ValueString() != "b-17" {
						t.Errorf("status.outputs = %+v", o.Status.Outputs)
					}
				})},
			},
		},
		{
			name: "a declared output default fills in a missing output",
			wf: dagWF(`
- {name: A, template: producer}`, "", `
- name: producer
  outputs:
    parameters: [{name: id, valueFrom: {default: none}}]
  function: {name: producer}`),
			steps: []step{
				{in: submit()},
				{in: ok("main.A"), finished: Succeeded, check: nodeOutput("main.A", "id", "none")},
			},
		},
		{
			name: "a declared output that was not produced errors the step",
			wf: dagWF(`
- {name: A, template: producer}`, "", `
- name: producer
  outputs:
    parameters: [{name: id}]
  function: {name: producer}`),
			steps: []step{
				{in: submit()},
				{in: ok("main.A"), finished: Errored, nodeMessages: map[string]string{"main.A": "outputs.parameters.id was not produced and has no default"}},
			},
		},
		{
			name: "outputs of a skipped task are its declared default or empty",
			wf: dagWF(`
- {name: A, template: producer, when: "false"}
- {name: B, template: echo, depends: A, arguments: {parameters: [{name: x, value: "[{{tasks.A.outputs.parameters.id}}][{{tasks.A.outputs.parameters.other}}][{{tasks.A.outputs.result}}][{{tasks.A.status}}]"}]}}`, "", `
- name: producer
  outputs:
    parameters: [{name: id, valueFrom: {default: n/a}}]
  function: {name: producer}`),
			steps: []step{
				{in: submit(), check: dispatchedInput("main.B", "x", "[n/a][][][Skipped]")},
			},
		},
		{
			name: "a reference to an output that does not exist errors the consumer",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: echo, dependencies: [A], arguments: {parameters: [{name: x, value: "{{tasks.A.outputs.parameters.missing}}"}]}}`),
			steps: []step{
				{in: submit()},
				{in: ok("main.A"), finished: Errored, nodeMessages: map[string]string{"main.B": "A (Succeeded) has no outputs.parameters.missing"}},
			},
		},
		{
			name: "tags outside the known variables are kept as written",
			wf: dagWF(`
- {name: A, template: echo, arguments: {parameters: [{name: x, value: "{{custom.thing}} in {{workflow.namespace}}"}]}}`),
			steps: []step{
				{in: submit(), check: dispatchedInput("main.A", "x", "{{custom.thing}} in default")},
			},
		},
		{
			name: "dag outputs from an expression",
			wf: `
spec:
  entrypoint: main
  templates:
  - name: main
    outputs:
      parameters:
      - name: both
        valueFrom: {expression: "tasks.A.outputs.result + '+' + tasks.B.outputs.result"}
      - name: fallback
        valueFrom: {parameter: "{{tasks.A.outputs.parameters.nope}}", default: dflt}
    dag:
      tasks:
      - {name: A, template: fn}
      - {name: B, template: fn}
` + leaves,
			steps: []step{
				{in: submit()},
				{in: okResult("main.A", "a")},
				{in: okResult("main.B", "b"), finished: Succeeded, check: checks(nodeOutput("main", "both", "a+b"), nodeOutput("main", "fallback", "dflt"))},
			},
		},
		{
			name: "workflowTemplateRef runs the stored template with merged arguments",
			wf: `
spec:
  workflowTemplateRef: {name: wft}
  arguments:
    parameters: [{name: a, value: from-workflow}]
status:
  storedWorkflowTemplateSpec:
    entrypoint: main
    arguments:
      parameters: [{name: a, value: from-template}, {name: b, value: kept}]
    templates:
    - name: main
      dag:
        tasks:
        - {name: A, template: echo, arguments: {parameters: [{name: x, value: "{{workflow.parameters.a}}/{{workflow.parameters.b}}"}]}}
    - name: echo
      inputs: {parameters: [{name: x}]}
      function: {name: echo}
`,
			steps: []step{
				{in: submit(), dispatch: []string{"main.A"}, check: dispatchedInput("main.A", "x", "from-workflow/kept")},
			},
		},
		{
			name: "workflowTemplateRef without a stored spec errors the workflow",
			wf: `
spec:
  workflowTemplateRef: {name: wft}
`,
			steps: []step{
				{in: submit(), finished: Errored, message: `workflowTemplateRef "wft" is not resolved`},
			},
		},
		{
			name: "templateRef runs a stored template, whose own references stay in its template",
			wf: `
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: A, templateRef: {name: lib, template: pipeline}}
  - name: step
    function: {name: wrong-one}
status:
  storedTemplates:
    lib/pipeline:
      name: pipeline
      dag:
        tasks:
        - {name: inner, template: step}
    lib/step:
      name: step
      function: {name: from-lib}
`,
			steps: []step{
				{in: submit(), dispatch: []string{"main.A.inner"}, check: func(t *testing.T, o engine.Outcome) {
					if o.Dispatch[0].Function != "from-lib" {
						t.Errorf("function = %s, want from-lib", o.Dispatch[0].Function)
					}
				}},
			},
		},
		{
			name: "an unresolved templateRef errors the task",
			wf: dagWF(`
- {name: A, templateRef: {name: lib, template: missing}}`),
			steps: []step{
				{in: submit(), finished: Errored, nodeMessages: map[string]string{"main.A": "templateRef lib/missing is not resolved"}},
			},
		},
		{
			name: "a template that calls itself stops at the depth limit",
			wf: dagWF(`
- {name: A, template: main}`),
			steps: []step{
				{in: submit(), finished: Errored, check: func(t *testing.T, o engine.Outcome) {
					if len(o.Status.Nodes) < 100 {
						t.Errorf("%d nodes", len(o.Status.Nodes))
					}
				}},
			},
		},
		{
			name: "container, script, http and resource templates route to built-in functions",
			wf: dagWF(`
- {name: C, template: c}
- {name: S, template: s}
- {name: H, template: h}
- {name: R, template: r}`, "", `
- name: c
  container: {image: alpine, command: [echo, "{{workflow.name}}"]}
- name: s
  script: {image: python, command: [python3], source: "print('{{workflow.uid}}')"}
- name: h
  http: {url: "http://localhost/{{workflow.name}}"}
- name: r
  resource: {action: create, manifest: "kind: ConfigMap"}`),
			steps: []step{
				{in: submit(), check: func(t *testing.T, o engine.Outcome) {
					want := map[string]string{"main.C": "exec", "main.S": "exec", "main.H": "http", "main.R": "resource"}
					for _, d := range o.Dispatch {
						if d.Function != want[d.NodeID] {
							t.Errorf("%s routes to %s, want %s", d.NodeID, d.Function, want[d.NodeID])
						}
					}
					if got := o.Dispatch[0].Template.Container.Command[1]; got != "wf" {
						t.Errorf("container command = %q", got)
					}
					if got := o.Dispatch[1].Template.Script.Source; got != "print('uid-1')" {
						t.Errorf("script source = %q", got)
					}
					if got := o.Dispatch[2].Template.HTTP.URL; got != "http://localhost/wf" {
						t.Errorf("http url = %q", got)
					}
				}},
			},
		},
	})
}
