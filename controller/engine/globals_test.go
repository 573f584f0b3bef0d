package engine_test

import (
	"testing"

	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

// payload checks the function payload dispatched for id.
func payload(id, want string) func(*testing.T, engine.Outcome) {
	return func(t *testing.T, o engine.Outcome) {
		t.Helper()
		for _, d := range o.Dispatch {
			if d.NodeID == id {
				if d.Template.Function == nil || d.Template.Function.Payload != want {
					t.Errorf("dispatch %s: payload = %+v, want %q", id, d.Template.Function, want)
				}
				return
			}
		}
		t.Errorf("no dispatch of %s", id)
	}
}

// TestGlobalsInInputs covers Argo's order of resolution: the global
// variables (docs/variables.md, "Global": workflow.name, workflow.namespace,
// workflow.uid, workflow.parameters.<NAME>, workflow.labels.<NAME>,
// workflow.annotations.<NAME>, workflow.creationTimestamp, …) are
// substituted into a template before its inputs (common.SubstituteParams:
// "First replace globals & locals, then replace inputs because globals could
// be referenced in the inputs"), so a template's own inputs.parameters[].value
// and default may name them, as docs/workflow-inputs.md's examples do.
func TestGlobalsInInputs(t *testing.T) {
	const say = `
- name: say
  inputs:
    parameters:
    - {name: msg, default: "{{workflow.parameters.title}}"}
  function: {name: say, payload: "{{inputs.parameters.msg}}"}`
	runCases(t, []engineCase{
		{
			// variables.md, Global: workflow.parameters.<NAME> in an
			// input's default (the exit handler and delete step).
			name: "an input default names a workflow parameter",
			wf: dagWF(`
- {name: A, template: say}`, "arguments: {parameters: [{name: title, value: Peak sale}]}", say),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A"}, check: checks(
					dispatchedInput("main.A", "msg", "Peak sale"), payload("main.A", "Peak sale"))},
			},
		},
		{
			// variables.md, Global: workflow.name, workflow.namespace,
			// workflow.uid in an input's value.
			name: "an input value names the workflow's name, namespace and uid",
			wf: dagWF(`
- {name: A, template: who}`, "", `
- name: who
  inputs:
    parameters:
    - {name: id, value: "{{workflow.name}}/{{workflow.namespace}}/{{workflow.uid}}"}
  function: {name: who, payload: "{{inputs.parameters.id}}"}`),
			steps: []step{
				{in: submit(), check: checks(dispatchedInput("main.A", "id", "wf/default/uid-1"), payload("main.A", "wf/default/uid-1"))},
			},
		},
		{
			// variables.md, Global: workflow.labels.<NAME>,
			// workflow.annotations.<NAME> and workflow.creationTimestamp;
			// a label key with dots and a slash (Argo's
			// workflows.argoproj.io/cron-workflow) is one name.
			name: "input defaults name labels, annotations and the creation time",
			wf: `
metadata:
  creationTimestamp: "2026-01-02T03:04:05Z"
  labels: {workflows.argoproj.io/cron-workflow: infra-scale}
  annotations: {workflows.argoproj.io/scheduled-time: "2026-12-03T08:00:00Z"}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: A, template: meta}
  - name: meta
    inputs:
      parameters:
      - {name: cron, default: "{{workflow.labels.workflows.argoproj.io/cron-workflow}}"}
      - {name: at, default: "{{workflow.annotations.workflows.argoproj.io/scheduled-time}}"}
      - {name: created, default: "{{workflow.creationTimestamp}}/{{workflow.creationTimestamp.s}}"}
    function: {name: meta}
`,
			steps: []step{
				{in: submit(), check: checks(
					dispatchedInput("main.A", "cron", "infra-scale"),
					dispatchedInput("main.A", "at", "2026-12-03T08:00:00Z"),
					dispatchedInput("main.A", "created", "2026-01-02T03:04:05Z/1767323045"))},
			},
		},
		{
			// Argo's argument precedence (workflow-inputs.md: callers
			// provide inputs; the default applies when none is passed).
			name: "an argument wins over a default that names a global",
			wf: dagWF(`
- {name: A, template: say, arguments: {parameters: [{name: msg, value: given}]}}`, "arguments: {parameters: [{name: title, value: Peak sale}]}", say),
			steps: []step{
				{in: submit(), check: dispatchedInput("main.A", "msg", "given")},
			},
		},
		{
			// workflow-inputs.md: a dag passes its input down as
			// {{inputs.parameters.X}}; here that input's default came from
			// a global.
			name: "an input resolved from a global passes down as inputs.parameters",
			wf: dagWF(`
- {name: A, template: middle}`, "arguments: {parameters: [{name: region, value: eu}]}", `
- name: middle
  inputs:
    parameters:
    - {name: r, default: "{{workflow.parameters.region}}"}
  dag:
    tasks:
    - {name: B, template: echo, arguments: {parameters: [{name: x, value: "{{inputs.parameters.r}}-1"}]}}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A.B"}, check: dispatchedInput("main.A.B", "x", "eu-1")},
			},
		},
		{
			// exit-handlers.md with variables.md's workflow.status: an
			// onExit template's inputs see the globals, the final status
			// among them (the Slack notification).
			name: "an onExit handler's input defaults resolve, workflow.status included",
			wf: dagWF(`
- {name: A, template: fn}`, "onExit: notify\narguments: {parameters: [{name: title, value: Peak sale}]}", `
- name: notify
  inputs:
    parameters:
    - {name: text, default: "{{workflow.parameters.title}}: {{workflow.status}}"}
  function: {name: slack, payload: "{{inputs.parameters.text}}"}`),
			steps: []step{
				{in: submit()},
				{in: ok("main.A"), dispatch: []string{"main.onExit"}, check: checks(
					dispatchedInput("main.onExit", "text", "Peak sale: Succeeded"), payload("main.onExit", "Peak sale: Succeeded"))},
				{in: ok("main.onExit"), finished: Succeeded},
			},
		},
		{
			// steps.md with workflow-inputs.md: the entrypoint, a steps
			// template, declares an input whose value is a global, and its
			// step passes it on.
			name: "a steps entrypoint's input value names a workflow parameter",
			wf: `
spec:
  entrypoint: main
  arguments: {parameters: [{name: title, value: Peak sale}]}
  templates:
  - name: main
    inputs:
      parameters:
      - {name: t, value: "{{workflow.parameters.title}}!"}
    steps:
    - - {name: A, template: echo, arguments: {parameters: [{name: x, value: "{{inputs.parameters.t}}"}]}}
` + leaves,
			steps: []step{
				{in: submit(), dispatch: []string{"main[0].A"}, check: dispatchedInput("main[0].A", "x", "Peak sale!")},
			},
		},
		{
			// workflow-templates.md, templateRef: a WorkflowTemplate's
			// template sees the running workflow's globals.
			name: "a templateRef'd template's input default names the calling workflow's parameter",
			wf: `
spec:
  entrypoint: main
  arguments: {parameters: [{name: title, value: Peak sale}]}
  templates:
  - name: main
    dag:
      tasks:
      - {name: A, templateRef: {name: lib, template: say}}
status:
  storedTemplates:
    lib/say:
      name: say
      inputs:
        parameters:
        - {name: msg, default: "{{workflow.parameters.title}} from {{workflow.name}}"}
      function: {name: say, payload: "{{inputs.parameters.msg}}"}
`,
			steps: []step{
				{in: submit(), check: checks(dispatchedInput("main.A", "msg", "Peak sale from wf"), payload("main.A", "Peak sale from wf"))},
			},
		},
		{
			// variables.md, Expression: expression tags see the globals
			// too.
			name: "an expression in an input default sees the globals",
			wf: dagWF(`
- {name: A, template: loud}`, "arguments: {parameters: [{name: title, value: peak}]}", `
- name: loud
  inputs:
    parameters:
    - {name: msg, default: "{{=upper(workflow.parameters.title)}}"}
  function: {name: loud}`),
			steps: []step{
				{in: submit(), check: dispatchedInput("main.A", "msg", "PEAK")},
			},
		},
		{
			// valueFrom.default on an input is a default like any other.
			name: "an input's valueFrom.default names a workflow parameter",
			wf: dagWF(`
- {name: A, template: vf}`, "arguments: {parameters: [{name: title, value: Peak sale}]}", `
- name: vf
  inputs:
    parameters:
    - {name: msg, valueFrom: {default: "{{workflow.parameters.title}}"}}
  function: {name: vf}`),
			steps: []step{
				{in: submit(), check: dispatchedInput("main.A", "msg", "Peak sale")},
			},
		},
		{
			// parameters enum: the value must be one of the enum; the
			// resolved value is what is checked.
			name: "the enum is checked on the resolved default",
			wf: dagWF(`
- {name: A, template: env}`, "arguments: {parameters: [{name: env, value: staging}]}", `
- name: env
  inputs:
    parameters:
    - {name: e, default: "{{workflow.parameters.env}}", enum: [dev, prod]}
  function: {name: env}`),
			steps: []step{
				{in: submit(), finished: Errored, nodeMessages: map[string]string{"main.A": `"staging" is not one of`}},
			},
		},
		{
			// A tag of a known family that names nothing fails the node, as
			// elsewhere; lint reports it first.
			name: "a default naming a missing workflow parameter errors the task",
			wf: dagWF(`
- {name: A, template: say}`, "arguments: {parameters: [{name: other, value: x}]}", say),
			invalid: true,
			steps: []step{
				{in: submit(), finished: Errored, nodeMessages: map[string]string{"main.A": "inputs.parameters.msg: cannot resolve {{workflow.parameters.title}}"}},
			},
		},
	})
}
