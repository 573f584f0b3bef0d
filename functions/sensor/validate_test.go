package sensor_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/zeroflow-dev/zeroflow/functions/sensor"
)

// These tests need neither the API server nor the broker that TestMain
// starts: Validate only reads the Sensor.

// fieldErr is one expected error: its type, its full field path and a
// substring of its message.
type fieldErr struct {
	typ  field.ErrorType
	path string
	msg  string
}

// validateDoc is a Sensor with deps (a, b and c when empty) and triggers
// (a log trigger when empty), both YAML lists at column 0.
func validateDoc(deps, triggers string) string {
	if deps == "" {
		deps = `
- {name: a, eventSourceName: src, eventName: a}
- {name: b, eventSourceName: src, eventName: b}
- {name: c, eventSourceName: src, eventName: c}`
	}
	if triggers == "" {
		triggers = "- template: {name: t, log: {}}"
	}
	indent := func(s string) string {
		return "  " + strings.ReplaceAll(strings.Trim(s, "\n"), "\n", "\n  ")
	}
	return "metadata: {name: s}\nspec:\n  dependencies:\n" + indent(deps) + "\n  triggers:\n" + indent(triggers) + "\n"
}

// checkFieldErrors asserts that errs are exactly want: the same multiset
// of type and path, each error with its message.
func checkFieldErrors(t *testing.T, errs field.ErrorList, want []fieldErr) {
	t.Helper()
	var got, expected []string
	var all strings.Builder
	for _, e := range errs {
		got = append(got, string(e.Type)+" "+e.Field)
		fmt.Fprintf(&all, "  %v\n", e)
	}
	for _, w := range want {
		expected = append(expected, string(w.typ)+" "+w.path)
	}
	sort.Strings(got)
	sort.Strings(expected)
	if strings.Join(got, "\n") != strings.Join(expected, "\n") {
		t.Fatalf("errors = %q, want %q\nerrors:\n%s", got, expected, &all)
	}
	used := make([]bool, len(errs))
	for _, w := range want {
		found := false
		for i, e := range errs {
			if !used[i] && e.Type == w.typ && e.Field == w.path && strings.Contains(e.Error(), w.msg) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("no %s error at %s contains %q\nerrors:\n%s", w.typ, w.path, w.msg, &all)
		}
	}
}

func TestValidateFiltersAndParameters(t *testing.T) {
	const (
		invalid      = field.ErrorTypeInvalid
		notSupported = field.ErrorTypeNotSupported
	)
	cases := []struct {
		name string
		doc  string
		want []fieldErr
	}{
		{
			name: "filters and parameters of every kind are valid",
			doc: validateDoc(`
- name: a
  eventSourceName: src
  eventName: a
  filters:
    data:
    - {path: body.action, type: string, value: ["^open", "closed$"], comparator: "!="}
    - {path: body.count, type: number, value: ["3", "4.5"], comparator: ">="}
    - {path: body.draft, type: bool, value: ["false"]}
    - {path: body.title, type: string, value: [WIP], template: "{{ .Input | upper }}"}
    exprs:
    - expr: action =~ "^open" && count > 3
      fields: [{name: action, path: body.action}, {name: count, path: body.count}]
    time: {start: "08:00:00", stop: "18:00:00", timezone: Europe/Berlin}
- {name: b, eventSourceName: src, eventName: b}`, `
- template:
    name: wf
    conditions: a && b
    workflow:
      source: {resource: {kind: Workflow}}
      parameters: [{src: {dependencyName: a, dataKey: body.action}, dest: spec.arguments.parameters.0.value}]
  parameters: [{src: {dependencyName: b, contextKey: id}, dest: workflow.operation, operation: overwrite}]
- template:
    name: hook
    http:
      url: placeholder
      payload:
      - {src: {dependencyName: a, dataTemplate: "{{ .Input.body.count | int }}"}}
      - {src: {dependencyName: b, contextTemplate: "{{ .Input.id }}", value: none}, dest: id, operation: append}
      parameters: [{src: {dependencyName: a, dataKey: body.url}, dest: url}]
  dlqTrigger:
    template:
      name: dead
      cloudEvent:
        type: dead
        payload: [{src: {dependencyName: a, dataKey: body}}]
- template:
    name: chat
    slack:
      webhookURL: {name: slack, key: url}
      parameters: [{src: {dependencyName: a, dataKey: body.title}, dest: message, operation: prepend}]
- template:
    name: legacy
    argoWorkflow:
      source: {inline: "kind: Workflow"}
      parameters: [{src: {dependencyName: b, dataKey: body}, dest: metadata.name}]
- template:
    name: obj
    k8s:
      source: {resource: {kind: ConfigMap}}
      parameters: [{src: {dependencyName: a, dataKey: body}, dest: data.body}]`),
		},

		// Errors of filter.Compile, under the dependency's path.
		{
			name: "bad regular expression in a data filter value",
			doc: validateDoc(`
- name: a
  eventSourceName: src
  eventName: a
  filters:
    data:
    - {path: body.action, type: string, value: [opened]}
    - {path: body.title, type: string, value: ["(unclosed", "ok", "a{2,1}"]}`, ""),
			want: []fieldErr{
				{invalid, "spec.dependencies[0].filters.data[1].value[0]", `invalid regular expression "(unclosed"`},
				{invalid, "spec.dependencies[0].filters.data[1].value[2]", `invalid regular expression "a{2,1}"`},
			},
		},
		{
			name: "data filter comparator that does not apply to its type",
			doc: validateDoc(`
- name: a
  eventSourceName: src
  eventName: a
  filters:
    data:
    - {path: body.action, type: string, comparator: ">", value: [opened]}
    - {path: body.draft, type: bool, comparator: "<=", value: ["true"]}
    - {path: body.count, type: number, comparator: "~", value: ["1"]}`, ""),
			want: []fieldErr{
				{invalid, "spec.dependencies[0].filters.data[0].comparator", `">" does not apply to type string`},
				{invalid, "spec.dependencies[0].filters.data[1].comparator", `"<=" does not apply to type bool`},
				{invalid, "spec.dependencies[0].filters.data[2].comparator", `unknown comparator "~"`},
			},
		},
		{
			name: "data filter type, path and values",
			doc: validateDoc(`
- name: a
  eventSourceName: src
  eventName: a
  filters:
    data:
    - {path: body.count, type: int, value: ["1"]}
    - {path: "", type: string, value: []}
    - {path: body.count, type: number, value: ["1", "many"]}
    - {path: body.draft, type: bool, value: [maybe]}`, ""),
			want: []fieldErr{
				{invalid, "spec.dependencies[0].filters.data[0].type", `unsupported type "int"`},
				{invalid, "spec.dependencies[0].filters.data[1].path", "must not be empty"},
				{invalid, "spec.dependencies[0].filters.data[1].value", "at least one value"},
				{invalid, "spec.dependencies[0].filters.data[2].value[1]", `"many" is not a number`},
				{invalid, "spec.dependencies[0].filters.data[3].value[0]", `"maybe" is not a boolean`},
			},
		},
		{
			// text/template names the template in its message; the error
			// is on the filter, not on its template field.
			name: "bad data filter template",
			doc: validateDoc(`
- name: a
  eventSourceName: src
  eventName: a
  filters:
    data:
    - {path: body.x, type: string, value: [x], template: "{{ .Input "}
    - {path: body.x, type: string, value: [x], template: "{{ env \"HOME\" }}"}`, ""),
			want: []fieldErr{
				{invalid, "spec.dependencies[0].filters.data[0]", "template: filters.data[0].template:1: unclosed action"},
				{invalid, "spec.dependencies[0].filters.data[1]", `function "env" not defined`},
			},
		},
		{
			// expr-lang's message goes on over lines that show the
			// expression; it stays one error.
			name: "bad expr syntax is one error",
			doc: validateDoc(`
- name: a
  eventSourceName: src
  eventName: a
  filters:
    exprs:
    - {expr: "count >", fields: [{name: count, path: body.count}]}`, ""),
			want: []fieldErr{{invalid, "spec.dependencies[0].filters.exprs[0].expr", `invalid expression "count >": unexpected token EOF`}},
		},
		{
			name: "expr name not bound by its fields",
			doc: validateDoc(`
- {name: a, eventSourceName: src, eventName: a}
- name: b
  eventSourceName: src
  eventName: b
  filters:
    exprs:
    - {expr: "count > 1", fields: [{name: count, path: body.count}]}
    - {expr: "total > 1 && count > 1", fields: [{name: count, path: body.count}]}`, ""),
			want: []fieldErr{{invalid, "spec.dependencies[1].filters.exprs[1].expr", "unknown name total"}},
		},
		{
			name: "expr fields: none, reserved, bound twice, without a path",
			doc: validateDoc(`
- name: a
  eventSourceName: src
  eventName: a
  filters:
    exprs:
    - {expr: "true", fields: []}
    - {expr: "x > 1", fields: [{name: "in", path: body.x}]}
    - {expr: "x > 1", fields: [{name: x, path: body.x}, {name: x, path: body.y}]}
    - {expr: "x > 1", fields: [{name: x, path: ""}]}
    - {expr: "x > 1", fields: [{name: 1x, path: body.x}]}`, ""),
			want: []fieldErr{
				{invalid, "spec.dependencies[0].filters.exprs[0].fields", "at least one field"},
				{invalid, "spec.dependencies[0].filters.exprs[1].fields[0].name", `"in" is a reserved word`},
				{invalid, "spec.dependencies[0].filters.exprs[1].expr", "invalid expression"},
				{invalid, "spec.dependencies[0].filters.exprs[2].fields[1].name", `"x" is bound twice`},
				{invalid, "spec.dependencies[0].filters.exprs[3].fields[0].path", "must not be empty"},
				{invalid, "spec.dependencies[0].filters.exprs[4].fields[0].name", `"1x" is not a valid expression identifier`},
				{invalid, "spec.dependencies[0].filters.exprs[4].expr", "unknown name x"},
			},
		},
		{
			// ValidateSensor and filter.Compile both check these; each
			// mistake is reported once, with its value.
			name: "time window and logical operators are reported once",
			doc: validateDoc(`
- name: a
  eventSourceName: src
  eventName: a
  filtersLogicalOperator: nor
  filters:
    dataLogicalOperator: xor
    data: [{path: body.x, type: string, value: [x]}]
    time: {start: "8:00:00", stop: "18:00:00", timezone: Nowhere/City}`, ""),
			want: []fieldErr{
				{notSupported, "spec.dependencies[0].filtersLogicalOperator", `"nor"`},
				{notSupported, "spec.dependencies[0].filters.dataLogicalOperator", `"xor"`},
				{invalid, "spec.dependencies[0].filters.time.start", `Invalid value: "8:00:00"`},
				{invalid, "spec.dependencies[0].filters.time.timezone", `Invalid value: "Nowhere/City"`},
			},
		},

		// Errors of params.Check, under the parameter list's path.
		{
			name: "parameter with an unknown dependency",
			doc: validateDoc("", `
- template:
    name: t
    http:
      url: "https://example.com"
      payload: [{src: {dependencyName: a, dataKey: x}, dest: x}, {src: {dependencyName: d, dataKey: x}, dest: y}]`),
			want: []fieldErr{{invalid, "spec.triggers[0].template.http.payload[1].src.dependencyName", `"d" is not a dependency of the sensor`}},
		},
		{
			name: "parameter without src or dependencyName",
			doc: validateDoc("", `
- template:
    name: t
    cloudEvent:
      type: x
      payload: [{dest: x}, {src: {dataKey: x}, dest: y}]`),
			want: []fieldErr{
				{invalid, "spec.triggers[0].template.cloudEvent.payload[0].src", "required: name the dependency"},
				{invalid, "spec.triggers[0].template.cloudEvent.payload[1].src.dependencyName", "required"},
			},
		},
		{
			name: "bad dataTemplate and contextTemplate",
			doc: validateDoc("", `
- template:
    name: t
    k8s:
      source: {resource: {kind: ConfigMap}}
      parameters:
      - {src: {dependencyName: a, dataTemplate: "{{ .Input.body "}, dest: data.x}
      - {src: {dependencyName: a, dataTemplate: "{{ getHostByName \"example.com\" }}"}, dest: data.y}
- template:
    name: u
    workflow:
      source: {resource: {kind: Workflow}}
      parameters:
      - {src: {dependencyName: b, contextTemplate: "{{ end }}"}, dest: metadata.name}`),
			want: []fieldErr{
				{invalid, "spec.triggers[0].template.k8s.parameters[0].src.dataTemplate", "unclosed action"},
				{invalid, "spec.triggers[0].template.k8s.parameters[1].src.dataTemplate", `function "getHostByName" not defined`},
				{invalid, "spec.triggers[1].template.workflow.parameters[0].src.contextTemplate", "unexpected {{end}}"},
			},
		},
		{
			name: "dest is required everywhere but a payload",
			doc: validateDoc("", `
- template:
    name: t1
    http:
      url: "https://example.com"
      payload: [{src: {dependencyName: a, dataKey: body}}]
      parameters: [{src: {dependencyName: a, dataKey: url}}]
  parameters: [{src: {dependencyName: a, dataKey: x}}]
- template:
    name: t2
    argoWorkflow:
      source: {resource: {kind: Workflow}}
      parameters: [{src: {dependencyName: a, dataKey: x}}]
- template:
    name: t3
    slack:
      webhookURL: {name: s, key: k}
      parameters: [{src: {dependencyName: a, dataKey: x}}]
- template:
    name: t4
    k8s:
      source: {resource: {kind: ConfigMap}}
      parameters: [{src: {dependencyName: a, dataKey: x}}]`),
			want: []fieldErr{
				{invalid, "spec.triggers[0].template.http.parameters[0].dest", "required: an sjson path"},
				{invalid, "spec.triggers[0].parameters[0].dest", "required: an sjson path"},
				{invalid, "spec.triggers[1].template.argoWorkflow.parameters[0].dest", "required"},
				{invalid, "spec.triggers[2].template.slack.parameters[0].dest", "required"},
				{invalid, "spec.triggers[3].template.k8s.parameters[0].dest", "required"},
			},
		},
		{
			name: "unknown parameter operation",
			doc: validateDoc("", `
- template: {name: t, log: {}}
  parameters: [{src: {dependencyName: a, dataKey: x}, dest: log.intervalSeconds, operation: replace}]`),
			want: []fieldErr{{invalid, "spec.triggers[0].parameters[0].operation", `"replace" is not one of overwrite, append, prepend`}},
		},
		{
			name: "parameter errors inside a dead-letter trigger",
			doc: validateDoc("", `
- template: {name: t, log: {}}
  dlqTrigger:
    template:
      name: dead
      http:
        url: "https://example.com"
        payload: [{src: {dependencyName: z, dataKey: body}}]
    parameters: [{src: {dependencyName: a, dataKey: x}}]`),
			want: []fieldErr{
				{invalid, "spec.triggers[0].dlqTrigger.template.http.payload[0].src.dependencyName", `"z" is not a dependency`},
				{invalid, "spec.triggers[0].dlqTrigger.parameters[0].dest", "required"},
			},
		},
		{
			name: "structural, filter and parameter errors together",
			doc: validateDoc(`
- {name: a, eventSourceName: src, eventName: a, filters: {data: [{path: x, type: string, value: ["["]}]}}
- {name: b, eventSourceName: src, eventName: b}`, `
- template: {name: t, conditions: "a && c", log: {}}
  parameters: [{src: {dependencyName: c, dataKey: x}, dest: log.intervalSeconds}]`),
			want: []fieldErr{
				{invalid, "spec.dependencies[0].filters.data[0].value[0]", "invalid regular expression"},
				{invalid, "spec.triggers[0].template.conditions", `"c" is not a dependency of this sensor`},
				{invalid, "spec.triggers[0].parameters[0].src.dependencyName", `"c" is not a dependency of the sensor`},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkFieldErrors(t, sensor.Validate(decodeSensor(t, c.doc)), c.want)
		})
	}
}
