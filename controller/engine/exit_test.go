package engine_test

import (
	"encoding/json"
	"testing"

	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

const exitTemplates = `
- name: notify
  inputs:
    parameters: [{name: status}, {name: failures}]
  function: {name: notify}`

func TestExitHandlers(t *testing.T) {
	runCases(t, []engineCase{
		{
			name: "exit handler sees a successful workflow",
			wf: dagWF(`
- {name: A, template: fn}`, "hooks:\n  exit:\n    template: notify\n    arguments: {parameters: [{name: status, value: \"{{workflow.status}}\"}, {name: failures, value: \"{{workflow.failures}}\"}]}", exitTemplates),
			steps: []step{
				{in: submit()},
				{in: ok("main.A"), dispatch: []string{"main.onExit"}, check: checks(dispatchedInput("main.onExit", "status", "Succeeded"), dispatchedInput("main.onExit", "failures", "[]"))},
				{in: ok("main.onExit"), finished: Succeeded},
			},
		},
		{
			name: "exit handler sees the failures",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: fn}`, "hooks:\n  exit:\n    template: notify\n    arguments: {parameters: [{name: status, value: \"{{workflow.status}}\"}, {name: failures, value: \"{{workflow.failures}}\"}]}", exitTemplates),
			steps: []step{
				{in: submit()},
				{in: ok("main.B")},
				{in: result("main.A", 0, "Failed", "disk full", nil), dispatch: []string{"main.onExit"}, check: checks(dispatchedInput("main.onExit", "status", "Failed"),
					func(t *testing.T, o engine.Outcome) {
						var failures []map[string]string
						for _, p := range o.Dispatch[0].Template.Inputs.Parameters {
							if p.Name == "failures" {
								if err := json.Unmarshal([]byte(p.ValueString()), &failures); err != nil {
									t.Fatalf("failures is not JSON: %v", err)
								}
							}
						}
						if len(failures) != 2 || failures[0]["nodeID"] != "main" || failures[1]["displayName"] != "A" || failures[1]["message"] != "disk full" || failures[1]["phase"] != "Failed" {
							t.Errorf("failures = %v", failures)
						}
					})},
				{in: ok("main.onExit"), finished: Failed, message: "child 'main.A' failed"},
			},
		},
		{
			name: "a failed exit handler fails a successful workflow",
			wf: dagWF(`
- {name: A, template: fn}`, "onExit: fn"),
			steps: []step{
				{in: submit()},
				{in: ok("main.A")},
				{in: result("main.onExit", 0, "Failed", "could not notify", nil), finished: Failed, message: "could not notify"},
			},
		},
		{
			name: "a failed exit handler keeps the first failure's phase",
			wf: dagWF(`
- {name: A, template: fn}`, "onExit: fn"),
			steps: []step{
				{in: submit()},
				{in: errored("main.A")},
				{in: fail("main.onExit"), finished: Errored, message: "child 'main.A' failed"},
			},
		},
		{
			name: "a task exit hook runs after the task and its dependents wait for it",
			wf: dagWF(`
- name: A
  template: fn
  hooks:
    exit:
      template: echo
      arguments: {parameters: [{name: x, value: "{{tasks.A.status}}"}]}
- {name: B, template: fn, dependencies: [A]}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A"}},
				{in: ok("main.A"), dispatch: []string{"main.A.onExit"}, check: dispatchedInput("main.A.onExit", "x", "Succeeded")},
				{in: fail("main.A.onExit"), dispatch: []string{"main.B"}, nodes: P("main=Running", "main.A=Succeeded", "main.A.onExit=Failed", "main.B=Running")},
				{in: ok("main.B"), finished: Succeeded},
			},
		},
		{
			name: "onExit on a task runs with the task's arguments",
			wf: dagWF(`
- {name: A, template: echo, onExit: echo, arguments: {parameters: [{name: x, value: hi}]}}`),
			steps: []step{
				{in: submit()},
				{in: fail("main.A"), check: dispatchedInput("main.A.onExit", "x", "hi")},
				{in: ok("main.A.onExit"), finished: Failed},
			},
		},
		{
			name: "an expression hook fires once while the task runs",
			wf: dagWF(`
- name: A
  template: fn
  hooks:
    started:
      template: fn
      expression: tasks.A.status == "Running"`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A", "main.A.hooks.started"}},
				{in: ok("main.A.hooks.started"), dispatch: none},
				{in: ok("main.A"), finished: Succeeded, nodes: P("main=Succeeded", "main.A=Succeeded", "main.A.hooks.started=Succeeded")},
			},
		},
		{
			name: "a workflow hook runs when its expression holds",
			wf: dagWF(`
- {name: A, template: fn}`, "hooks:\n  done:\n    template: fn\n    expression: workflow.status == \"Succeeded\""),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A"}},
				{in: ok("main.A"), dispatch: []string{"main.hooks.done"}},
				{in: ok("main.hooks.done"), finished: Succeeded},
			},
		},
		{
			name: "a skipped task runs no hooks",
			wf: dagWF(`
- {name: A, template: fn, when: "false", onExit: fn}`),
			steps: []step{
				{in: submit(), finished: Succeeded, nodes: P("main=Succeeded", "main.A=Skipped")},
			},
		},
	})
}

func TestSteps(t *testing.T) {
	runCases(t, []engineCase{
		{
			name: "groups run one after another and steps of a group together",
			wf: stepsWF(`
- - {name: A, template: fn}
- - {name: B, template: fn}
  - {name: C, template: fn}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main[0].A"}, nodes: P("main=Running", "main[0]=Running", "main[0].A=Running")},
				{in: ok("main[0].A"), dispatch: []string{"main[1].B", "main[1].C"}},
				{in: ok("main[1].C"), dispatch: none},
				{in: ok("main[1].B"), finished: Succeeded, nodes: P("main=Succeeded", "main[0]=Succeeded", "main[0].A=Succeeded", "main[1]=Succeeded", "main[1].B=Succeeded", "main[1].C=Succeeded")},
			},
		},
		{
			name: "a failed step fails its group and later groups never start",
			wf: stepsWF(`
- - {name: A, template: fn}
  - {name: B, template: fn}
- - {name: C, template: fn}`),
			steps: []step{
				{in: submit()},
				{in: fail("main[0].A"), dispatch: none},
				{in: ok("main[0].B"), finished: Failed, nodes: P("main=Failed", "main[0]=Failed", "main[0].A=Failed", "main[0].B=Succeeded"),
					message: "child 'main[0].A' failed"},
			},
		},
		{
			name: "continueOn lets the steps go on",
			wf: stepsWF(`
- - {name: A, template: fn, continueOn: {failed: true}}
- - {name: B, template: fn}`),
			steps: []step{
				{in: submit()},
				{in: fail("main[0].A"), dispatch: []string{"main[1].B"}},
				{in: ok("main[1].B"), finished: Succeeded},
			},
		},
		{
			name: "when and outputs of earlier steps",
			wf: stepsWF(`
- - {name: flip, template: fn}
- - {name: heads, template: echo, when: "{{steps.flip.outputs.result}} == heads", arguments: {parameters: [{name: x, value: "{{steps.flip.outputs.result}}"}]}}
  - {name: tails, template: fn, when: "{{steps.flip.outputs.result}} == tails"}`),
			steps: []step{
				{in: submit()},
				{in: okResult("main[0].flip", "heads"), dispatch: []string{"main[1].heads"}, check: dispatchedInput("main[1].heads", "x", "heads"),
					nodes: P("main=Running", "main[0]=Succeeded", "main[0].flip=Succeeded", "main[1]=Running", "main[1].heads=Running", "main[1].tails=Skipped")},
				{in: ok("main[1].heads"), finished: Succeeded},
			},
		},
		{
			name: "a loop in steps aggregates for the next group",
			wf: stepsWF(`
- - {name: each, template: fn, withItems: [a, b]}
- - {name: sum, template: echo, arguments: {parameters: [{name: x, value: "{{steps.each.outputs.result}}"}]}}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main[0].each(0)", "main[0].each(1)"}},
				{in: okResult("main[0].each(1)", "2")},
				{in: okResult("main[0].each(0)", "1"), dispatch: []string{"main[1].sum"}, check: dispatchedInput("main[1].sum", "x", "[1,2]")},
			},
		},
		{
			name: "steps outputs and steps nested in a dag",
			wf: dagWF(`
- {name: S, template: seq}
- {name: use, template: echo, dependencies: [S], arguments: {parameters: [{name: x, value: "{{tasks.S.outputs.parameters.out}}"}]}}`, "", `
- name: seq
  outputs:
    parameters: [{name: out, valueFrom: {parameter: "{{steps.two.outputs.result}}"}}]
  steps:
  - - {name: one, template: fn}
  - - {name: two, template: fn}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.S[0].one"}},
				{in: ok("main.S[0].one"), dispatch: []string{"main.S[1].two"}},
				{in: okResult("main.S[1].two", "v2"), dispatch: []string{"main.use"}, check: checks(nodeOutput("main.S", "out", "v2"), dispatchedInput("main.use", "x", "v2"))},
			},
		},
		{
			name: "steps parallelism",
			wf: `
spec:
  entrypoint: main
  templates:
  - name: main
    parallelism: 1
    steps:
    - - {name: A, template: fn}
      - {name: B, template: fn}
` + leaves,
			steps: []step{
				{in: submit(), dispatch: []string{"main[0].A"}},
				{in: ok("main[0].A"), dispatch: []string{"main[0].B"}},
				{in: ok("main[0].B"), finished: Succeeded},
			},
		},
		{
			name:    "a bad when errors the step and fails the steps",
			invalid: true,
			wf: stepsWF(`
- - {name: A, template: fn, when: "(("}`),
			steps: []step{
				{in: submit(), finished: Failed, nodes: P("main=Failed", "main[0]=Failed", "main[0].A=Error")},
			},
		},
	})
}
