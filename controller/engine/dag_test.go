package engine_test

import (
	"testing"
	"time"
)

func TestDAG(t *testing.T) {
	runCases(t, []engineCase{
		{
			name: "linear chain runs one task at a time",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: fn, dependencies: [A]}
- {name: C, template: fn, dependencies: [B]}`),
			steps: []step{
				{in: submit(), nodes: P("main=Running", "main.A=Running"), dispatch: []string{"main.A"}, wake: noWake},
				{in: ok("main.A"), at: time.Second, nodes: P("main=Running", "main.A=Succeeded", "main.B=Running"), dispatch: []string{"main.B"}},
				{in: ok("main.B"), at: 2 * time.Second, dispatch: []string{"main.C"}},
				{in: ok("main.C"), at: 3 * time.Second, nodes: P("main=Succeeded", "main.A=Succeeded", "main.B=Succeeded", "main.C=Succeeded"), dispatch: none, finished: Succeeded},
			},
		},
		{
			name: "diamond joins after both branches",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: fn, depends: A}
- {name: C, template: fn, depends: A}
- {name: D, template: fn, depends: B && C}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A"}},
				{in: ok("main.A"), dispatch: []string{"main.B", "main.C"}},
				{in: ok("main.C"), dispatch: none, nodes: P("main=Running", "main.A=Succeeded", "main.B=Running", "main.C=Succeeded")},
				{in: ok("main.B"), dispatch: []string{"main.D"}},
				{in: ok("main.D"), finished: Succeeded},
			},
		},
		{
			name: "multiple roots start together",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: fn}
- {name: C, template: fn, dependencies: [A, B]}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A", "main.B"}},
				{in: ok("main.B"), dispatch: none},
				{in: ok("main.A"), dispatch: []string{"main.C"}},
				{in: ok("main.C"), finished: Succeeded},
			},
		},
		{
			name: "nested dag runs inside a task",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: inner, dependencies: [A]}
- {name: C, template: fn, dependencies: [B]}`, "", `
- name: inner
  dag:
    tasks:
    - {name: X, template: fn}
    - {name: Z, template: fn, dependencies: [X]}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A"}},
				{in: ok("main.A"), dispatch: []string{"main.B.X"}, nodes: P("main=Running", "main.A=Succeeded", "main.B=Running", "main.B.X=Running")},
				{in: ok("main.B.X"), dispatch: []string{"main.B.Z"}},
				{in: ok("main.B.Z"), dispatch: []string{"main.C"}, nodes: P("main=Running", "main.A=Succeeded", "main.B=Succeeded", "main.B.X=Succeeded", "main.B.Z=Succeeded", "main.C=Running")},
				{in: ok("main.C"), finished: Succeeded},
			},
		},
		{
			name: "failure inside a nested dag fails the outer dag",
			wf: dagWF(`
- {name: B, template: inner}
- {name: C, template: fn, dependencies: [B]}`, "", `
- name: inner
  dag:
    tasks:
    - {name: X, template: fn}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.B.X"}},
				{in: fail("main.B.X"), nodes: P("main=Failed", "main.B=Failed", "main.B.X=Failed", "main.C=Omitted"), finished: Failed, message: "child 'main.C' failed"},
			},
		},
		{
			name: "bare depends accepts skipped",
			wf: dagWF(`
- {name: A, template: fn, when: "1 == 2"}
- {name: B, template: fn, depends: A}`),
			steps: []step{
				{in: submit(), nodes: P("main=Running", "main.A=Skipped", "main.B=Running"), dispatch: []string{"main.B"}, nodeMessages: map[string]string{"main.A": "when '1 == 2' evaluated false"}},
				{in: ok("main.B"), finished: Succeeded},
			},
		},
		{
			name: "bare depends omits after a failure and the dag fails",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: fn, depends: A}
- {name: C, template: fn, depends: B}`),
			steps: []step{
				{in: submit()},
				{in: fail("main.A"), nodes: P("main=Failed", "main.A=Failed", "main.B=Omitted", "main.C=Omitted"), dispatch: none, finished: Failed,
					nodeMessages: map[string]string{"main.B": "omitted: depends condition not met"}},
			},
		},
		{
			name: "depends Failed runs a handler and the dag succeeds",
			wf: dagWF(`
- {name: A, template: fn}
- {name: onfail, template: fn, depends: A.Failed}`),
			steps: []step{
				{in: submit()},
				{in: fail("main.A"), dispatch: []string{"main.onfail"}},
				{in: ok("main.onfail"), finished: Succeeded, nodes: P("main=Succeeded", "main.A=Failed", "main.onfail=Succeeded")},
			},
		},
		{
			name: "depends Succeeded omits when the task failed",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: fn, depends: A.Succeeded}
- {name: C, template: fn, depends: A.Failed}`),
			steps: []step{
				{in: submit()},
				{in: fail("main.A"), nodes: P("main=Running", "main.A=Failed", "main.B=Omitted", "main.C=Running"), dispatch: []string{"main.C"}},
				{in: ok("main.C"), finished: Failed, message: "child 'main.B' failed"},
			},
		},
		{
			name: "depends Errored matches Error, not Failed",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: fn, depends: A.Errored}
- {name: C, template: fn, depends: A.Failed}`),
			steps: []step{
				{in: submit()},
				{in: errored("main.A"), nodes: P("main=Running", "main.A=Error", "main.B=Running", "main.C=Omitted"), dispatch: []string{"main.B"}},
				{in: ok("main.B"), finished: Errored, message: "child 'main.C' failed"},
			},
		},
		{
			name: "depends Skipped and Omitted",
			wf: dagWF(`
- {name: A, template: fn, when: "false"}
- {name: B, template: fn, depends: A.Succeeded}
- {name: C, template: fn, depends: A.Skipped}
- {name: D, template: fn, depends: B.Omitted}`),
			steps: []step{
				{in: submit(), nodes: P("main=Running", "main.A=Skipped", "main.B=Omitted", "main.C=Running", "main.D=Running"), dispatch: []string{"main.C", "main.D"}},
				{in: ok("main.C")},
				{in: ok("main.D"), finished: Succeeded},
			},
		},
		{
			name: "depends Daemoned is never true",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: fn, depends: A.Daemoned}`),
			steps: []step{
				{in: submit()},
				{in: ok("main.A"), nodes: P("main=Succeeded", "main.A=Succeeded", "main.B=Omitted"), finished: Succeeded},
			},
		},
		{
			name: "depends with or waits for every operand",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: fn}
- {name: C, template: fn, depends: A || B}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A", "main.B"}},
				{in: ok("main.A"), dispatch: none},
				{in: fail("main.B"), dispatch: []string{"main.C"}},
				{in: ok("main.C"), finished: Succeeded},
			},
		},
	})
}
