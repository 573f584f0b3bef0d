package engine_test

import "testing"

// bomb is the webhook field of issue 11 that, pasted into a when as code,
// made expr-lang allocate about 1 TB and the process abort.
const bomb = `x' + repeat(repeat('x', 999999), 1000000) + '`

// TestWhenValuesAreData: a value substituted into a when is one literal,
// so Argo's comparisons still hold and an event's text never runs; a
// condition over its budget errors its node only.
func TestWhenValuesAreData(t *testing.T) {
	runCases(t, []engineCase{
		{
			name: "the bomb as an output value is a string: the task is skipped, the workflow goes on",
			wf: dagWF(`
- {name: gen, template: fn}
- {name: A, template: fn, depends: gen, when: "'{{tasks.gen.outputs.result}}' == 'y'"}
- {name: B, template: fn, depends: gen, when: "{{tasks.gen.outputs.result}} == y"}
- {name: C, template: fn, depends: gen}`),
			steps: []step{
				{in: submit()},
				{in: okResult("main.gen", bomb), nodes: P("main=Running", "main.gen=Succeeded", "main.A=Skipped", "main.B=Skipped", "main.C=Running"), dispatch: []string{"main.C"},
					nodeMessages: map[string]string{"main.A": "evaluated false"}},
				{in: ok("main.C"), finished: Succeeded},
			},
		},
		{
			// As in Argo, a task in Error fails the dag before B starts.
			name: "a bomb written in the condition errors its task with the budget, and the dag fails",
			wf: dagWF(`
- {name: A, template: fn, when: "repeat(repeat('x', 999999), 1000000) == x"}
- {name: B, template: fn}`),
			steps: []step{
				{in: submit(), finished: Failed, nodes: P("main=Failed", "main.A=Error"),
					nodeMessages: map[string]string{"main.A": "memory budget of 1000000 units (MemoryBudget)"}},
			},
		},
		{
			name: "numbers compare as numbers",
			wf: dagWF(`
- {name: gen, template: fn}
- {name: big, template: fn, depends: gen, when: "{{tasks.gen.outputs.result}} > 5"}
- {name: small, template: fn, depends: gen, when: "{{tasks.gen.outputs.result}} <= 5"}
- {name: ten, template: fn, depends: gen, when: "{{tasks.gen.outputs.result}} < 10"}`),
			steps: []step{
				{in: submit()},
				{in: okResult("main.gen", "7"), nodes: P("main=Running", "main.gen=Succeeded", "main.big=Running", "main.small=Skipped", "main.ten=Running"),
					nodeMessages: map[string]string{"main.small": "when '7 <= 5' evaluated false"}},
				{in: ok("main.big")},
				{in: ok("main.ten"), finished: Succeeded},
			},
		},
		{
			name: "booleans and quoted values",
			wf: dagWF(`
- {name: gen, template: fn}
- {name: bare, template: fn, depends: gen, when: "{{tasks.gen.outputs.result}}"}
- {name: quoted, template: fn, depends: gen, when: "'{{tasks.gen.outputs.result}}' == 'true'"}
- {name: negated, template: fn, depends: gen, when: "!{{tasks.gen.outputs.result}}"}`),
			steps: []step{
				{in: submit()},
				{in: okResult("main.gen", "true"), nodes: P("main=Running", "main.gen=Succeeded", "main.bare=Running", "main.quoted=Running", "main.negated=Skipped")},
				{in: ok("main.bare")},
				{in: ok("main.quoted"), finished: Succeeded},
			},
		},
	})
}
