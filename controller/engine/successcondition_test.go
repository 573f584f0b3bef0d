package engine_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/zeroflow-dev/zeroflow/controller/engine"
	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

// httpWF is a dag with one http task H whose successCondition is cond,
// with the workflow parameter x passed as its input x.
func httpWF(cond, x string) string {
	return dagWF(`
- {name: H, template: h, arguments: {parameters: [{name: x, value: "{{workflow.parameters.x}}"}]}}`,
		`arguments: {parameters: [{name: x, value: `+strconv.Quote(x)+`}]}`, `
- name: h
  inputs: {parameters: [{name: x}]}
  http:
    url: "http://localhost/?q={{inputs.parameters.x}}"
    successCondition: `+strconv.Quote(cond))
}

// response is the successCondition's environment of the http function.
func response(status int, body string) map[string]any {
	return map[string]any{"response": map[string]any{"statusCode": status, "body": body, "headers": map[string]any{}}}
}

// TestSuccessConditionValuesAreData: the http function evaluates the
// dispatched successCondition as code, so the engine writes each value into
// it as one literal; Argo's substitute-then-evaluate cases still hold.
func TestSuccessConditionValuesAreData(t *testing.T) {
	type eval struct {
		status int
		body   string
		want   bool
	}
	cases := []struct {
		name, cond, x string
		evals         []eval
	}{
		{name: "the bomb in quotes is a plain comparison", cond: `response.body == '{{inputs.parameters.x}}'`, x: bomb,
			evals: []eval{{200, "ok", false}, {200, bomb, true}}},
		{name: "the bomb out of quotes is a string", cond: `response.body == {{inputs.parameters.x}}`, x: bomb,
			evals: []eval{{200, "ok", false}, {200, bomb, true}}},
		{name: "the bomb through an expression tag is a string", cond: `response.body == '{{= inputs.parameters.x }}'`, x: bomb,
			evals: []eval{{200, "ok", false}, {200, bomb, true}}},
		{name: "a value holding tags stays text", cond: `response.body == "{{inputs.parameters.x}}"`, x: `{{= repeat("x", 10) }}{{workflow.name}}`,
			evals: []eval{{200, `{{= repeat("x", 10) }}{{workflow.name}}`, true}, {200, "xxxxxxxxxxwf", false}}},
		{name: "Argo: a number compares as a number", cond: `response.statusCode == {{inputs.parameters.x}}`, x: "201",
			evals: []eval{{201, "", true}, {200, "", false}}},
		{name: "Argo: an expression tag's number", cond: `response.statusCode < {{= asInt(inputs.parameters.x) + 100 }}`, x: "200",
			evals: []eval{{299, "", true}, {300, "", false}}},
		{name: "Argo: contains a quoted value", cond: `response.statusCode == 200 && response.body contains "{{inputs.parameters.x}}"`, x: "goo",
			evals: []eval{{200, "google", true}, {200, "bing", false}, {404, "google", false}}},
	}
	for _, c := range cases {
		var dispatched string
		t.Run(c.name, func(t *testing.T) {
			runCase(t, engineCase{name: c.name, wf: httpWF(c.cond, c.x), steps: []step{
				{in: submit(), dispatch: []string{"main.H"}, check: func(t *testing.T, o engine.Outcome) {
					h := o.Dispatch[0].Template.HTTP
					if want := "http://localhost/?q=" + c.x; h.URL != want {
						t.Errorf("%s: url = %q, want the value as text %q", c.name, h.URL, want)
					}
					dispatched = h.SuccessCondition
					for _, e := range c.evals {
						got, err := expression.EvalBool(h.SuccessCondition, response(e.status, e.body))
						if err != nil {
							t.Errorf("%s: %s: %v", c.name, h.SuccessCondition, err)
							continue
						}
						if got != e.want {
							t.Errorf("%s: %s with %d %q = %v, want %v", c.name, h.SuccessCondition, e.status, e.body, got, e.want)
						}
					}
				}},
				{in: ok("main.H"), finished: Succeeded},
			}})
		})
		if strings.Contains(dispatched, "repeat(repeat(") && !strings.Contains(dispatched, `\'x\'`) && !strings.Contains(dispatched, `"x`) {
			t.Errorf("%s: the bomb is code in %s", c.name, dispatched)
		}
	}

	runCases(t, []engineCase{
		{
			name: "a bomb written in the condition's expression tag errors the node with the budget",
			wf:   httpWF(`response.body == '{{= repeat(repeat("x", 999999), 1000000) }}'`, "x"),
			steps: []step{
				{in: submit(), finished: Errored, nodes: P("main=Error", "main.H=Error"),
					nodeMessages: map[string]string{"main.H": "more than the memory budget of 1000000 units (MemoryBudget)"}},
			},
		},
	})
}

// TestTagInAValueStaysText: values are substituted once. A workflow
// parameter holding a tag (an event's field) that reaches a template
// through an input's default, a task argument and an expression tag is
// the same text in every field of the dispatched template: nothing
// evaluates it.
func TestTagInAValueStaysText(t *testing.T) {
	const tag = `{{= repeat(repeat('x', 999999), 1000000) }}{{workflow.name}}`
	wf := dagWF(`
- {name: D, template: byDefault}
- {name: A, template: echo, arguments: {parameters: [{name: x, value: "{{workflow.parameters.x}}"}]}}
- {name: E, template: echo, arguments: {parameters: [{name: x, value: "{{= workflow.parameters.x }}"}]}}`,
		`arguments: {parameters: [{name: x, value: `+strconv.Quote(tag)+`}]}`, `
- name: byDefault
  inputs: {parameters: [{name: z, default: "{{workflow.parameters.x}}"}]}
  script: {image: alpine, command: [sh], source: "echo '{{inputs.parameters.z}}'"}`)
	runCases(t, []engineCase{{
		name: "a tag in a value is text",
		wf:   wf,
		steps: []step{{in: submit(), dispatch: []string{"main.D", "main.A", "main.E"}, check: func(t *testing.T, o engine.Outcome) {
			if got := o.Dispatch[0].Template.Script.Source; got != "echo '"+tag+"'" {
				t.Errorf("input default: source = %q", got)
			}
			for _, d := range o.Dispatch {
				for _, p := range d.Template.Inputs.Parameters {
					if p.Value == nil || string(*p.Value) != tag {
						t.Errorf("%s: input %s = %v, want the text %q", d.NodeID, p.Name, p.Value, tag)
					}
				}
			}
		}}},
	}})
}
