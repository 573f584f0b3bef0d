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
		{
			name: "depends with not and parentheses",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: fn}
- {name: C, template: fn, depends: "(A.Succeeded || B.Succeeded) && !A.Failed"}`),
			steps: []step{
				{in: submit()},
				{in: ok("main.A")},
				{in: fail("main.B"), dispatch: []string{"main.C"}},
				{in: ok("main.C"), finished: Succeeded, message: ""},
			},
		},
		{
			name: "dashed task names in depends",
			wf: dagWF(`
- {name: fetch-data, template: fn}
- {name: fetch_data, template: fn}
- {name: use-it, template: fn, depends: fetch-data.Succeeded && fetch_data.Failed}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.fetch-data", "main.fetch_data"}},
				{in: ok("main.fetch-data")},
				{in: fail("main.fetch_data"), dispatch: []string{"main.use-it"}},
				{in: ok("main.use-it"), finished: Succeeded},
			},
		},
		{
			name: "continueOn failed lets dependents run and the dag succeed",
			wf: dagWF(`
- {name: A, template: fn, continueOn: {failed: true}}
- {name: B, template: fn, dependencies: [A]}`),
			steps: []step{
				{in: submit()},
				{in: fail("main.A"), dispatch: []string{"main.B"}},
				{in: ok("main.B"), finished: Succeeded, nodes: P("main=Succeeded", "main.A=Failed", "main.B=Succeeded")},
			},
		},
		{
			name: "continueOn failed does not cover an error",
			wf: dagWF(`
- {name: A, template: fn, continueOn: {failed: true}}
- {name: B, template: fn, dependencies: [A]}`),
			steps: []step{
				{in: submit()},
				{in: errored("main.A"), nodes: P("main=Error", "main.A=Error", "main.B=Omitted"), finished: Errored},
			},
		},
		{
			name: "continueOn error covers an error",
			wf: dagWF(`
- {name: A, template: fn, continueOn: {error: true}}
- {name: B, template: fn, dependencies: [A]}`),
			steps: []step{
				{in: submit()},
				{in: errored("main.A"), dispatch: []string{"main.B"}},
				{in: ok("main.B"), finished: Succeeded},
			},
		},
		{
			name: "continueOn on a leaf keeps the dag successful",
			wf: dagWF(`
- {name: A, template: fn}
- {name: B, template: fn, continueOn: {failed: true}}`),
			steps: []step{
				{in: submit()},
				{in: ok("main.A")},
				{in: fail("main.B"), finished: Succeeded},
			},
		},
		{
			name: "failFast starts no new task after an unhandled failure",
			wf: dagWF(`
- {name: A, template: fn}
- {name: slow, template: fn}
- {name: after-slow, template: fn, dependencies: [slow]}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A", "main.slow"}},
				{in: fail("main.A"), dispatch: none, nodes: P("main=Running", "main.A=Failed", "main.slow=Running")},
				{in: ok("main.slow"), dispatch: none, nodes: P("main=Failed", "main.A=Failed", "main.slow=Succeeded"), finished: Failed, message: "child 'main.A' failed"},
			},
		},
		{
			name: "failFast false keeps starting independent tasks",
			wf: `
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      failFast: false
      tasks:
      - {name: A, template: fn}
      - {name: slow, template: fn}
      - {name: after-slow, template: fn, dependencies: [slow]}
` + leaves,
			steps: []step{
				{in: submit()},
				{in: fail("main.A"), dispatch: none},
				{in: ok("main.slow"), dispatch: []string{"main.after-slow"}},
				{in: ok("main.after-slow"), finished: Failed, message: "child 'main.A' failed"},
			},
		},
		{
			name: "failFast still starts a failure handler",
			wf: dagWF(`
- {name: A, template: fn}
- {name: slow, template: fn}
- {name: after-slow, template: fn, depends: slow}
- {name: cleanup, template: fn, depends: A.Failed}`),

			steps: []step{
				{in: submit(), dispatch: []string{"main.A", "main.slow"}},
				{in: fail("main.A"), dispatch: []string{"main.cleanup"}},
				{in: ok("main.cleanup")},
				{in: ok("main.slow"), dispatch: []string{"main.after-slow"}},
				{in: ok("main.after-slow"), finished: Succeeded},
			},
		},
		{
			name: "target runs only the named task and its ancestors",
			wf: `
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      target: B
      tasks:
      - {name: A, template: fn}
      - {name: B, template: fn, dependencies: [A]}
      - {name: C, template: fn}
` + leaves,
			steps: []step{
				{in: submit(), dispatch: []string{"main.A"}},
				{in: ok("main.A"), dispatch: []string{"main.B"}},
				{in: ok("main.B"), finished: Succeeded, nodes: P("main=Succeeded", "main.A=Succeeded", "main.B=Succeeded")},
			},
		},
		{
			name: "template parallelism limits running tasks",
			wf: `
spec:
  entrypoint: main
  templates:
  - name: main
    parallelism: 2
    dag:
      tasks:
      - {name: A, template: fn}
      - {name: B, template: fn}
      - {name: C, template: fn}
      - {name: D, template: fn}
` + leaves,
			steps: []step{
				{in: submit(), dispatch: []string{"main.A", "main.B"}},
				{in: ok("main.B"), dispatch: []string{"main.C"}},
				{in: tick(), dispatch: none},
				{in: ok("main.A"), dispatch: []string{"main.D"}},
				{in: ok("main.C")},
				{in: ok("main.D"), finished: Succeeded},
			},
		},
		{
			name: "workflow parallelism counts leaves across nested dags",
			wf: dagWF(`
- {name: A, template: pair}
- {name: B, template: pair}`, "parallelism: 3", `
- name: pair
  dag:
    tasks:
    - {name: X, template: fn}
    - {name: Z, template: fn}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A.X", "main.A.Z", "main.B.X"}},
				{in: ok("main.A.X"), dispatch: []string{"main.B.Z"}},
				{in: ok("main.A.Z"), dispatch: none},
				{in: ok("main.B.X")},
				{in: ok("main.B.Z"), finished: Succeeded},
			},
		},
		{
			name:    "a cycle at run time errors the dag",
			invalid: true,
			wf: dagWF(`
- {name: A, template: fn, dependencies: [B]}
- {name: B, template: fn, dependencies: [A]}`),
			steps: []step{
				{in: submit(), finished: Errored, nodeMessages: map[string]string{"main": "dependency cycle"}},
			},
		},
		{
			name:    "unknown template errors the task",
			invalid: true,
			wf: dagWF(`
- {name: A, template: nope}`),
			steps: []step{
				{in: submit(), finished: Errored, nodes: P("main=Error", "main.A=Error"), nodeMessages: map[string]string{"main.A": `template "nope" not found`}},
			},
		},
		{
			name:    "a bad when errors the task",
			invalid: true,
			wf: dagWF(`
- {name: A, template: fn, when: "heads =="}`),
			steps: []step{
				{in: submit(), finished: Errored, nodes: P("main=Error", "main.A=Error"), nodeMessages: map[string]string{"main.A": "invalid when"}},
			},
		},
		{
			name: "when compares task output with a bare word",
			wf: dagWF(`
- {name: flip, template: fn}
- {name: heads, template: fn, depends: flip, when: "{{tasks.flip.outputs.result}} == heads"}
- {name: tails, template: fn, depends: flip, when: "{{tasks.flip.outputs.result}} == tails"}`),
			steps: []step{
				{in: submit()},
				{in: okResult("main.flip", "tails"), nodes: P("main=Running", "main.flip=Succeeded", "main.heads=Skipped", "main.tails=Running"), dispatch: []string{"main.tails"}},
				{in: ok("main.tails"), finished: Succeeded},
			},
		},
	})
}
