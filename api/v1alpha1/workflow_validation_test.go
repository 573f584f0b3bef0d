package v1alpha1

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// wantErr is one expected error: its exact field path and a substring of
// its message.
type wantErr struct {
	path, msg string
}

// validCase is a realistic workflow that uses most features: a dag with
// loops over items, a parameter and a sequence, depends with loop results,
// hooks, retries, nested steps, suspend outputs, and tags of every family.
const validCase = `
apiVersion: zeroflow.dev/v1alpha1
kind: Workflow
metadata:
  name: release
spec:
  entrypoint: main
  parallelism: 10
  activeDeadlineSeconds: 3600
  shutdown: Stop
  onExit: notify
  hooks:
    running:
      expression: workflow.status == "Running"
      template: notify
      arguments:
        parameters:
        - name: text
          value: "{{workflow.name}} started"
  arguments:
    parameters:
    - name: env
      value: staging
      enum: [staging, production]
    - name: shards
      value: 3
  retryStrategy:
    limit: 2
  templates:
  - name: main
    inputs:
      parameters:
      - name: env
    outputs:
      parameters:
      - name: report
        valueFrom:
          parameter: "{{tasks.report.outputs.result}}"
      - name: count
        valueFrom:
          expression: len(fromJSON(tasks.list.outputs.result))
    dag:
      tasks:
      - name: list
        template: list-items
      - name: build
        template: build
        depends: list
        withParam: "{{tasks.list.outputs.result}}"
        when: "{{item.enabled}} == true"
        arguments:
          parameters:
          - name: target
            value: "{{item.name}}-{{inputs.parameters.env}}"
      - name: shard
        template: test
        depends: list
        withSequence:
          count: "{{workflow.parameters.shards}}"
          format: shard-%02d
        arguments:
          parameters:
          - name: shard
            value: "{{item}}"
      - name: approve
        template: approval
        depends: build.AnySucceeded && (shard.Succeeded || shard.Failed)
        hooks:
          exit:
            template: notify
            arguments:
              parameters:
              - name: text
                value: "approval {{tasks.approve.status}}"
      - name: report
        template: publish
        depends: approve
        when: "{{tasks.approve.outputs.parameters.approved}} == yes && {{workflow.parameters.shards}} > 0"
        arguments:
          parameters:
          - name: summary
            value: "{{=toJson(tasks.build.outputs.result)}}"
          - name: approver
            value: "{{tasks.approve.outputs.parameters.approver}}"
  - name: list-items
    timeout: 30s
    function:
      name: list-items
      payload: '{"env": "{{workflow.parameters.env}}", "all": {{workflow.parameters.json}}}'
  - name: build
    inputs:
      parameters:
      - name: target
    retryStrategy:
      limit: "3"
      retryPolicy: OnError
      backoff: {duration: "10", factor: 2, maxDuration: 5m, cap: 1m}
      expression: lastRetry.status == "Error"
    timeout: "{{inputs.parameters.target}}"
    script:
      image: python:3.12
      command: [python3]
      source: |
        print("building {{inputs.parameters.target}}, attempt {{retries}}")
    outputs:
      parameters:
      - name: artifact
        valueFrom: {path: /tmp/artifact, default: none}
  - name: test
    inputs:
      parameters:
      - name: shard
    steps:
    - - name: prepare
        template: pause
    - - name: run
        template: run-shard
        when: "'{{inputs.parameters.shard}}' != 'shard-99'"
        arguments:
          parameters:
          - {name: shard, value: "{{inputs.parameters.shard}}"}
          - {name: prepared, value: "{{steps.prepare.status}}"}
      - name: lint
        template: run-shard
        continueOn: {failed: true}
        arguments:
          parameters: [{name: shard, value: lint}]
    - - name: collect
        template: run-shard
        withItems: [a, b]
        arguments:
          parameters: [{name: shard, value: "{{item}}-{{steps.run.outputs.result}}"}]
  - name: run-shard
    inputs:
      parameters:
      - name: shard
      - name: prepared
        default: ""
    container:
      image: alpine
      command: [sh, -c]
      args: ["run {{inputs.parameters.shard}} on {{pod.name}}"]
      env: [{name: SHARD, value: "{{inputs.parameters.shard}}"}]
  - name: pause
    suspend: {duration: "5"}
  - name: approval
    suspend: {}
    outputs:
      parameters:
      - name: approved
        valueFrom: {supplied: {}}
      - name: approver
        valueFrom: {supplied: {}, default: nobody}
  - name: publish
    inputs:
      parameters:
      - {name: summary}
      - {name: approver}
    http:
      method: POST
      url: "https://reports.example.com/{{workflow.name}}"
      body: "{{inputs.parameters.summary}}"
      successCondition: response.statusCode < 300
      headers:
      - name: Authorization
        valueFrom: {secretKeyRef: {name: reports, key: token}}
  - name: notify
    inputs:
      parameters:
      - {name: text, default: "{{workflow.name}} finished: {{workflow.status}}"}
    function: {name: notify, payload: "{{inputs.parameters.text}}"}
`

// indent prefixes every line of s with pad.
func indent(s, pad string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = pad + l
	}
	return strings.Join(lines, "\n")
}

// leafTemplates are appended to the documents below: spec.templates[1] and
// spec.templates[2].
const leafTemplates = `
  - name: echo
    inputs:
      parameters:
      - {name: msg, default: hi}
    container: {image: alpine, command: [echo, "{{inputs.parameters.msg}}"]}
  - name: gen
    container: {image: alpine, command: [sh, -c, "echo '[1,2]'"]}`

// document is a Workflow or WorkflowTemplate with spec body.
func document(kind, body string) string {
	return "apiVersion: zeroflow.dev/v1alpha1\nkind: " + kind + "\nmetadata: {name: t}\nspec:\n" + indent(body, "  ") + "\n"
}

// withTemplates is a Workflow whose entrypoint is main, the first of
// templates, followed by leafTemplates.
func withTemplates(templates string) string {
	return document("Workflow", "entrypoint: main\ntemplates:\n"+strings.Trim(templates, "\n")) + strings.TrimLeft(leafTemplates, "\n") + "\n"
}

// dagWorkflow is a Workflow whose entrypoint, spec.templates[0], is a dag
// of tasks.
func dagWorkflow(tasks string) string {
	return withTemplates("- name: main\n  dag:\n    tasks:\n" + indent(tasks, "    "))
}

// stepsWorkflow is a Workflow whose entrypoint, spec.templates[0], is a
// steps template of groups.
func stepsWorkflow(groups string) string {
	return withTemplates("- name: main\n  steps:\n" + indent(groups, "  "))
}

// validateDocument parses doc strictly, so that a typo in a test fails
// loudly, and validates it by its kind.
func validateDocument(t *testing.T, doc string) field.ErrorList {
	t.Helper()
	var meta metav1.TypeMeta
	if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
		t.Fatalf("parse kind: %v\n%s", err, doc)
	}
	switch meta.Kind {
	case "Workflow":
		var wf Workflow
		if err := yaml.UnmarshalStrict([]byte(doc), &wf); err != nil {
			t.Fatalf("parse workflow: %v\n%s", err, doc)
		}
		return ValidateWorkflow(&wf)
	case "WorkflowTemplate":
		var wft WorkflowTemplate
		if err := yaml.UnmarshalStrict([]byte(doc), &wft); err != nil {
			t.Fatalf("parse workflow template: %v\n%s", err, doc)
		}
		return ValidateWorkflowTemplate(&wft)
	}
	t.Fatalf("unknown kind %q", meta.Kind)
	return nil
}

// checkErrors asserts that errs are exactly want: the same multiset of
// paths, each with its message.
func checkErrors(t *testing.T, errs field.ErrorList, want []wantErr) {
	t.Helper()
	var got, expected []string
	for _, e := range errs {
		got = append(got, e.Field)
	}
	for _, w := range want {
		expected = append(expected, w.path)
	}
	sort.Strings(got)
	sort.Strings(expected)
	if strings.Join(got, "\n") != strings.Join(expected, "\n") {
		t.Fatalf("error paths = %q, want %q\nerrors:\n%s", got, expected, listErrors(errs))
	}
	used := make([]bool, len(errs))
	for _, w := range want {
		found := false
		for i, e := range errs {
			if !used[i] && e.Field == w.path && strings.Contains(e.Error(), w.msg) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("no error at %s contains %q\nerrors:\n%s", w.path, w.msg, listErrors(errs))
		}
	}
}

func listErrors(errs field.ErrorList) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "  %v\n", e)
	}
	return b.String()
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want []wantErr
	}{
		{name: "realistic workflow is valid", doc: validCase},
		{
			name: "workflow template library needs no entrypoint nor argument values",
			doc: document("WorkflowTemplate", `
arguments:
  parameters:
  - name: env
templates:
- name: hello
  container: {image: alpine, command: [echo, "{{workflow.parameters.env}} {{workflow.parameters.region}}"]}`),
		},
		{
			name: "workflowTemplateRef leaves unknown names to the referenced template",
			doc: document("Workflow", `
workflowTemplateRef: {name: release}
onExit: cleanup
arguments:
  parameters:
  - name: env
templates:
- name: main
  dag:
    tasks:
    - {name: A, template: from-ref}
    - {name: B, template: main-local, depends: A}
- name: main-local
  container: {image: alpine, command: ["{{workflow.parameters.anything}}"]}`),
		},
		{
			name: "workflowTemplateRef still checks what is defined here",
			doc: document("Workflow", `
workflowTemplateRef: {name: release}
templates:
- name: local
  timeout: "30"
  container: {image: alpine}`),
			want: []wantErr{{"spec.templates[0].timeout", "use a unit, e.g. 30s"}},
		},
		{
			name: "entrypoint is required",
			doc:  document("Workflow", "templates:\n- {name: main, suspend: {}}"),
			want: []wantErr{{"spec.entrypoint", "Required value: name the template that runs first"}},
		},
		{
			name: "entrypoint must name a template",
			doc:  document("Workflow", "entrypoint: mian\ntemplates:\n- {name: main, suspend: {}}"),
			want: []wantErr{{"spec.entrypoint", `Not found: "mian": no template is named "mian"`}},
		},
		{
			name: "entrypoint inputs without default need spec arguments",
			doc: document("Workflow", `
entrypoint: main
templates:
- name: main
  inputs: {parameters: [{name: env}]}
  container: {image: alpine}`),
			want: []wantErr{{"spec.arguments.parameters", `template "main" needs input parameter "env", which has no default`}},
		},
		{
			name: "workflow template cannot reference another",
			doc:  document("WorkflowTemplate", "workflowTemplateRef: {name: other}"),
			want: []wantErr{{"spec.workflowTemplateRef", "cannot run another WorkflowTemplate"}},
		},
		{
			name: "onExit must name a template",
			doc:  document("Workflow", "entrypoint: main\nonExit: cleanup\ntemplates:\n- {name: main, suspend: {}}"),
			want: []wantErr{{"spec.onExit", `no template is named "cleanup"`}},
		},
		{
			name: "hooks other than exit need an expression",
			doc:  document("Workflow", "entrypoint: main\nhooks:\n  started: {template: main}\ntemplates:\n- {name: main, suspend: {}}"),
			want: []wantErr{{"spec.hooks[started].expression", `a hook other than "exit" runs once its expression holds`}},
		},
		{
			name: "hook expression must compile",
			doc:  document("Workflow", "entrypoint: main\nhooks:\n  started: {template: main, expression: 'workflow.status =='}\ntemplates:\n- {name: main, suspend: {}}"),
			want: []wantErr{{"spec.hooks[started].expression", "invalid expression"}},
		},
		{
			name: "hook needs exactly one of template and templateRef",
			doc: document("Workflow", `
entrypoint: main
hooks:
  exit: {template: main, templateRef: {name: lib, template: x}}
  failed: {expression: workflow.status == "Failed"}
templates:
- {name: main, suspend: {}}`),
			want: []wantErr{
				{"spec.hooks[exit].templateRef", "set template (a template of this spec) or templateRef (a template of a WorkflowTemplate), not both"},
				{"spec.hooks[failed].template", "Required value: set template"},
			},
		},
		{
			name: "hook template must exist",
			doc:  document("Workflow", "entrypoint: main\nhooks:\n  exit: {template: cleanup}\ntemplates:\n- {name: main, suspend: {}}"),
			want: []wantErr{{"spec.hooks[exit].template", `no template is named "cleanup"`}},
		},
		{
			name: "onExit and hooks.exit together",
			doc:  document("Workflow", "entrypoint: main\nonExit: main\nhooks:\n  exit: {template: main}\ntemplates:\n- {name: main, suspend: {}}"),
			want: []wantErr{{"spec.hooks[exit]", "onExit is set too and wins"}},
		},
		{
			name: "argument names are unique",
			doc:  document("Workflow", "entrypoint: main\narguments:\n  parameters:\n  - {name: a, value: x}\n  - {name: a, value: z}\ntemplates:\n- {name: main, suspend: {}}"),
			want: []wantErr{{"spec.arguments.parameters[1].name", `Duplicate value: "a": parameter names must be unique, and spec.arguments.parameters[0].name has this name too`}},
		},
		{
			name: "workflow arguments need a value",
			doc:  document("Workflow", "entrypoint: main\narguments:\n  parameters:\n  - {name: a}\n  - {name: b, default: x}\ntemplates:\n- {name: main, suspend: {}}"),
			want: []wantErr{
				{"spec.arguments.parameters[0].value", `argument "a" has no value: set value (or valueFrom.default)`},
				{"spec.arguments.parameters[1].default", `arguments take value, not default: write value: "x"`},
			},
		},
		{
			name: "argument value must be in its enum",
			doc:  document("Workflow", "entrypoint: main\narguments:\n  parameters:\n  - {name: env, value: prod, enum: [staging, production]}\ntemplates:\n- {name: main, suspend: {}}"),
			want: []wantErr{{"spec.arguments.parameters[0].value", `Unsupported value: "prod": supported values: "staging", "production"`}},
		},
		{
			name: "spec limits",
			doc:  document("Workflow", "entrypoint: main\nparallelism: 0\nactiveDeadlineSeconds: -1\nshutdown: Pause\ntemplates:\n- {name: main, suspend: {}}"),
			want: []wantErr{
				{"spec.parallelism", "must be at least 1"},
				{"spec.activeDeadlineSeconds", "must be 0 or more seconds"},
				{"spec.shutdown", `Unsupported value: "Pause": supported values: "Stop", "Terminate"`},
			},
		},
		{
			name: "spec retry strategy",
			doc:  document("Workflow", "entrypoint: main\nretryStrategy:\n  limit: -1\n  retryPolicy: Sometimes\n  backoff: {factor: 0, cap: ten}\ntemplates:\n- {name: main, suspend: {}}"),
			want: []wantErr{
				{"spec.retryStrategy.limit", "must be an integer of retries, 0 or more"},
				{"spec.retryStrategy.retryPolicy", `Unsupported value: "Sometimes"`},
				{"spec.retryStrategy.backoff.duration", "a backoff needs the first wait"},
				{"spec.retryStrategy.backoff.cap", `must be an integer of seconds ("20") or a duration with a unit`},
				{"spec.retryStrategy.backoff.factor", "must be an integer, 1 or more"},
			},
		},
		{
			name: "template names are unique and valid",
			doc:  withTemplates("- {name: main, suspend: {}}\n- {name: echo, suspend: {}}\n- {name: bad.name, suspend: {}}"),
			want: []wantErr{
				{"spec.templates[2].name", "a template name must start with a letter or digit"},
				{"spec.templates[3].name", `Duplicate value: "echo": template names must be unique, and spec.templates[1].name has this name too`},
			},
		},
		{
			name: "template must set a kind",
			doc:  withTemplates("- name: main\n  inputs: {parameters: [{name: a, default: b}]}"),
			want: []wantErr{{"spec.templates[0]", "set one of dag, steps, function, container, script, http, resource or suspend"}},
		},
		{
			name: "template must set only one kind",
			doc:  withTemplates("- name: main\n  container: {image: alpine}\n  script: {image: alpine, source: x}"),
			want: []wantErr{{"spec.templates[0]", "sets container and script, and a template does one thing"}},
		},
		{
			name: "input and output names are unique",
			doc: withTemplates(`
- name: main
  inputs: {parameters: [{name: a, default: x}, {name: a, default: z}]}
  outputs: {parameters: [{name: r}, {name: r}], artifacts: [{name: log}, {name: log}]}
  container: {image: alpine}`),
			want: []wantErr{
				{"spec.templates[0].inputs.parameters[1].name", "parameter names must be unique"},
				{"spec.templates[0].outputs.parameters[1].name", "parameter names must be unique"},
				{"spec.templates[0].outputs.artifacts[1].name", "artifact names must be unique"},
			},
		},
		{
			name: "input default must be in its enum",
			doc:  withTemplates("- name: main\n  inputs: {parameters: [{name: a, default: c, enum: [a, b]}]}\n  container: {image: alpine}"),
			want: []wantErr{{"spec.templates[0].inputs.parameters[0].default", `Unsupported value: "c"`}},
		},
		{
			name: "inputs take no valueFrom source",
			doc:  withTemplates("- name: main\n  inputs: {parameters: [{name: a, valueFrom: {path: /tmp/a, default: x}}]}\n  container: {image: alpine}"),
			want: []wantErr{{"spec.templates[0].inputs.parameters[0].valueFrom.path", "an input or argument takes value, default or valueFrom.default"}},
		},
		{
			name: "output valueFrom has one source",
			doc:  withTemplates("- name: main\n  outputs: {parameters: [{name: r, valueFrom: {path: /tmp/r, expression: '1', default: x}}]}\n  container: {image: alpine}"),
			want: []wantErr{
				{"spec.templates[0].outputs.parameters[0].valueFrom", "sets path and expression: set only one source"},
				{"spec.templates[0].outputs.parameters[0].valueFrom.expression", "valueFrom.expression needs a dag or steps template"},
			},
		},
		{
			name: "output sources fit the template kind",
			doc: withTemplates(`
- name: main
  dag:
    tasks: [{name: A, template: echo}]
  outputs:
    parameters:
    - {name: p, valueFrom: {path: /tmp/p}}
    - {name: s, valueFrom: {supplied: {}}}
    - {name: j, valueFrom: {jsonPath: $.a}}
    - {name: e, valueFrom: {expression: 'tasks.A.outputs.result +'}}
    - {name: none}
- name: fn
  function: {name: fn}
  outputs:
    parameters:
    - {name: q, valueFrom: {parameter: "{{tasks.A.outputs.result}}"}}
    - {name: empty, valueFrom: {}}`),
			want: []wantErr{
				{"spec.templates[0].outputs.parameters[0].valueFrom.path", "valueFrom.path needs a container or script template"},
				{"spec.templates[0].outputs.parameters[1].valueFrom.supplied", "valueFrom.supplied needs a suspend template"},
				{"spec.templates[0].outputs.parameters[2].valueFrom.jsonPath", `valueFrom.jsonPath needs a resource template (it selects from the object), and "main" is a dag template`},
				{"spec.templates[0].outputs.parameters[3].valueFrom.expression", "invalid expression"},
				{"spec.templates[0].outputs.parameters[4].valueFrom", `output "none" of a dag template is computed when it finishes`},
				{"spec.templates[1].outputs.parameters[0].valueFrom.parameter", "valueFrom.parameter needs a dag or steps template"},
				{"spec.templates[1].outputs.parameters[0].valueFrom.parameter", `{{tasks.*}} is only set in the tasks of a dag template`},
				{"spec.templates[1].outputs.parameters[1].valueFrom", "set one of path, jsonPath, expression, parameter or supplied"},
			},
		},
		{
			name: "timeout needs a unit",
			doc:  withTemplates("- name: main\n  timeout: \"30\"\n  container: {image: alpine}\n- name: other\n  timeout: soon\n  container: {image: alpine}"),
			want: []wantErr{
				{"spec.templates[0].timeout", `Invalid value: "30": a timeout needs a unit: use a unit, e.g. 30s`},
				{"spec.templates[1].timeout", "not a duration"},
			},
		},
		{
			name: "suspend duration is seconds or a duration",
			doc:  withTemplates("- name: main\n  suspend: {duration: 2 minutes}\n- name: later\n  inputs: {parameters: [{name: d, default: 1m}]}\n  suspend: {duration: '{{inputs.parameters.d}}'}"),
			want: []wantErr{{"spec.templates[0].suspend.duration", `Invalid value: "2 minutes": must be an integer of seconds`}},
		},
		{
			name: "template retry strategy",
			doc: withTemplates(`
- name: main
  retryStrategy:
    limit: many
    backoff: {duration: "-5", maxDuration: 1 hour}
    expression: lastRetry.status ==
  container: {image: alpine}`),
			want: []wantErr{
				{"spec.templates[0].retryStrategy.limit", `Invalid value: "many": must be an integer of retries`},
				{"spec.templates[0].retryStrategy.backoff.duration", "must not be negative"},
				{"spec.templates[0].retryStrategy.backoff.maxDuration", "must be an integer of seconds"},
				{"spec.templates[0].retryStrategy.expression", "invalid expression"},
			},
		},
		{
			name: "retries apply to leaf templates",
			doc: withTemplates(`
- name: main
  retryStrategy: {limit: 2}
  dag:
    tasks: [{name: A, template: wait}]
- name: wait
  retryStrategy: {limit: 2}
  suspend: {}`),
			want: []wantErr{
				{"spec.templates[0].retryStrategy", `Forbidden: retries apply to leaf templates (function, container, script, http or resource), and "main" is a dag template`},
				{"spec.templates[1].retryStrategy", `"wait" is a suspend template`},
			},
		},
		{
			name: "function name is a Knative Service name",
			doc:  withTemplates("- name: main\n  function: {name: My_Fn}\n- name: unnamed\n  function: {name: ''}\n- name: dynamic\n  function: {name: '{{inputs.parameters.fn}}'}\n  inputs: {parameters: [{name: fn, default: a}]}"),
			want: []wantErr{
				{"spec.templates[0].function.name", "must be a Knative Service name"},
				{"spec.templates[1].function.name", "name the function (its Knative Service) to run"},
			},
		},
		{
			name: "leaf templates need their essentials",
			doc: withTemplates(`
- name: main
  http: {url: '', method: FETCH, headers: [{name: X, valueFrom: {secretKeyRef: {name: s, key: ''}}}], successCondition: response.statusCode <}
- name: res
  resource: {action: ''}
- name: scr
  script: {command: [python3], source: '  '}
- name: box
  container: {env: [{name: A}, {name: A}]}`),
			want: []wantErr{
				{"spec.templates[0].http.url", "set the URL to request"},
				{"spec.templates[0].http.method", `Unsupported value: "FETCH"`},
				{"spec.templates[0].http.headers[0].valueFrom.secretKeyRef.key", "name the key of the secret"},
				{"spec.templates[0].http.successCondition", "invalid expression"},
				{"spec.templates[1].resource.action", "say what to do with the object"},
				{"spec.templates[1].resource.manifest", "write the object to act on as YAML or JSON"},
				{"spec.templates[2].script.source", "write the script to run"},
				{"spec.templates[3].container.command", "set command (what to run) or image"},
				{"spec.templates[3].container.env[1].name", "environment variable names must be unique"},
			},
		},
		{
			name: "tags must be well formed",
			doc:  withTemplates("- name: main\n  container: {image: alpine, command: [echo], args: [ok, 'a {{inputs.parameters.x', '{{ }}']}"),
			want: []wantErr{
				{"spec.templates[0].container.args[1]", "unterminated tag at offset 2"},
				{"spec.templates[0].container.args[2]", "empty tag at offset 0"},
			},
		},
		{
			name: "expression tags must compile",
			doc:  withTemplates("- name: main\n  container: {image: alpine, command: [echo, '{{= 1 + }}', '{{= asInt(\"2\") + 1 }}']}"),
			want: []wantErr{{"spec.templates[0].container.command[1]", "tag {{=1 +}}: invalid expression"}},
		},
		{
			name: "input parameters must be declared",
			doc:  withTemplates("- name: main\n  inputs: {parameters: [{name: msg, default: hi}]}\n  container: {image: alpine, command: [echo, '{{inputs.parameters.mgs}}']}"),
			want: []wantErr{{"spec.templates[0].container.command[1]", `Not found: "{{inputs.parameters.mgs}}": template "main" declares no input parameter "mgs": add it to its inputs.parameters or fix the name (declared: msg)`}},
		},
		{
			name: "workflow parameters must be arguments",
			doc:  document("Workflow", "entrypoint: main\narguments:\n  parameters: [{name: env, value: dev}]\ntemplates:\n- name: main\n  container: {image: alpine, command: [echo, '{{workflow.parameters.enviroment}}', '{{workflow.paramters.env}}']}"),
			want: []wantErr{
				{"spec.templates[0].container.command[1]", `spec.arguments.parameters has no parameter "enviroment": add it there or fix the name (parameters: env)`},
				{"spec.templates[0].container.command[2]", "workflow.paramters.env is not a workflow variable"},
			},
		},
		{
			name: "variables the engine never sets",
			doc:  withTemplates("- name: main\n  suspend: {duration: '{{retries}}'}\n  outputs: {parameters: [{name: o, valueFrom: {supplied: {}, default: '{{outputs.parameters.o}}'}}]}\n- name: fn\n  function: {name: fn, payload: '{{lastRetry.status}} {{items}} {{item}}'}"),
			want: []wantErr{
				{"spec.templates[0].suspend.duration", "{{retries}} is only set in leaf templates"},
				{"spec.templates[0].outputs.parameters[0].valueFrom.default", "a template's own outputs are not variables"},
				{"spec.templates[1].function.payload", "lastRetry.* is only visible in retryStrategy.expression"},
				{"spec.templates[1].function.payload", "a loop item is {{item}}, or {{item.<key>}}"},
				{"spec.templates[1].function.payload", "{{item}} is only set in the arguments and when of a task or step that loops"},
			},
		},
		{
			name: "task names are unique, valid and not reserved",
			doc:  dagWorkflow("- {name: A, template: echo}\n- {name: A, template: echo}\n- {name: a.b, template: echo}\n- {name: onExit, template: echo}\n- {name: hooks, template: echo}"),
			want: []wantErr{
				{"spec.templates[0].dag.tasks[1].name", "task names must be unique"},
				{"spec.templates[0].dag.tasks[2].name", "a task name must start with a letter or digit"},
				{"spec.templates[0].dag.tasks[3].name", `"onExit" is reserved`},
				{"spec.templates[0].dag.tasks[4].name", `"hooks" is reserved`},
			},
		},
		{
			name: "task calls exactly one template that exists",
			doc:  dagWorkflow("- {name: A, template: echo, templateRef: {name: lib, template: x}}\n- {name: B}\n- {name: C, template: ehco}\n- {name: D, templateRef: {name: lib, template: ''}}"),
			want: []wantErr{
				{"spec.templates[0].dag.tasks[0].templateRef", "not both"},
				{"spec.templates[0].dag.tasks[1].template", "Required value: set template"},
				{"spec.templates[0].dag.tasks[2].template", `Not found: "ehco": no template is named "ehco": fix the name or add the template to spec.templates (templates: echo, gen, main)`},
				{"spec.templates[0].dag.tasks[3].templateRef.template", "name the template inside the WorkflowTemplate"},
			},
		},
		{
			name: "task arguments need values and supply required inputs",
			doc: withTemplates(`
- name: main
  dag:
    tasks:
    - {name: A, template: need, arguments: {parameters: [{name: other}]}}
- name: need
  inputs: {parameters: [{name: x}]}
  container: {image: alpine}`),
			want: []wantErr{
				{"spec.templates[0].dag.tasks[0].arguments.parameters", `template "need" needs input parameter "x", which has no default`},
				{"spec.templates[0].dag.tasks[0].arguments.parameters[0].value", `argument "other" has no value`},
			},
		},
		{
			name: "dependencies name other tasks of the dag",
			doc:  dagWorkflow("- {name: A, template: echo, dependencies: [A]}\n- {name: B, template: echo, dependencies: [Z, A, A]}"),
			want: []wantErr{
				{"spec.templates[0].dag.tasks[0].dependencies[0]", "a task cannot depend on itself"},
				{"spec.templates[0].dag.tasks[1].dependencies[0]", `Not found: "Z": dependencies must name tasks of this dag: fix the name (tasks: A, B)`},
				{"spec.templates[0].dag.tasks[1].dependencies[2]", "dependency names must be unique, and spec.templates[0].dag.tasks[1].dependencies[1] has this name too: remove the repeat"},
			},
		},
		{
			name: "depends must parse",
			doc:  dagWorkflow("- {name: A, template: echo}\n- {name: B, template: echo, depends: A &&}\n- {name: C, template: echo, depends: A.Done}"),
			want: []wantErr{
				{"spec.templates[0].dag.tasks[1].depends", `Invalid value: "A &&": depends "A &&" is not a valid boolean expression: write task names joined by &&, || and !`},
				{"spec.templates[0].dag.tasks[2].depends", `"A.Done" is not a task result`},
			},
		},
		{
			name: "depends names tasks of the dag, not itself",
			doc:  dagWorkflow("- {name: A, template: echo}\n- {name: B, template: echo, depends: A && Q.Failed}\n- {name: C, template: echo, depends: C || A}"),
			want: []wantErr{
				{"spec.templates[0].dag.tasks[1].depends", `Not found: "Q": depends names "Q", which is not a task of this dag`},
				{"spec.templates[0].dag.tasks[2].depends", "a task cannot depend on itself: remove C"},
			},
		},
		{
			name: "AnySucceeded and AllFailed need a looping task",
			doc:  dagWorkflow("- {name: A, template: echo}\n- {name: L, template: echo, withItems: [1, 2]}\n- {name: B, template: echo, depends: A.AnySucceeded || L.AllFailed}"),
			want: []wantErr{{"spec.templates[0].dag.tasks[2].depends", "A.AnySucceeded needs task A to loop (withItems, withParam or withSequence): for a task that runs once, use A.Succeeded or A.Failed"}},
		},
		{
			name: "a dag with depends uses neither dependencies nor continueOn",
			doc:  dagWorkflow("- {name: A, template: echo, continueOn: {failed: true}}\n- {name: B, template: echo, depends: A}\n- {name: C, template: echo, dependencies: [A, B]}\n- {name: D, template: echo, depends: A, dependencies: [B]}"),
			want: []wantErr{
				{"spec.templates[0].dag.tasks[0].continueOn", `task "B" of this dag uses depends, which replaces continueOn: use 'A.Failed' / 'A.Errored' in depends instead`},
				{"spec.templates[0].dag.tasks[2].dependencies", `task "B" of this dag uses depends, and a dag uses either depends or dependencies: write these as depends (A && B)`},
				{"spec.templates[0].dag.tasks[3].dependencies", "this task sets depends too"},
			},
		},
		{
			name: "dependency cycle is named from the first task on it",
			doc:  dagWorkflow("- {name: X, template: echo}\n- {name: A, template: echo, depends: B && X}\n- {name: B, template: echo, depends: C}\n- {name: C, template: echo, depends: A}\n- {name: D, template: echo, depends: C}"),
			want: []wantErr{{"spec.templates[0].dag.tasks", `Invalid value: "A -> B -> C -> A": dependency cycle`}},
		},
		{
			name: "dependency cycle through dependencies is the shortest",
			doc:  dagWorkflow("- {name: P, template: echo, dependencies: [Q, R]}\n- {name: Q, template: echo, dependencies: [R]}\n- {name: R, template: echo, dependencies: [P]}"),
			want: []wantErr{{"spec.templates[0].dag.tasks", `Invalid value: "P -> R -> P": dependency cycle`}},
		},
		{
			name: "target names tasks",
			doc:  withTemplates("- name: main\n  dag:\n    target: A Z\n    tasks: [{name: A, template: echo}]"),
			want: []wantErr{{"spec.templates[0].dag.target", `Not found: "Z": target names tasks of this dag`}},
		},
		{
			name: "one loop per task",
			doc:  dagWorkflow("- {name: A, template: echo, withItems: [1], withParam: '[2]'}\n- {name: B, template: echo, withParam: 'a,b'}"),
			want: []wantErr{
				{"spec.templates[0].dag.tasks[0].withParam", "withItems is set too: a task or step loops over one of withItems, withParam or withSequence"},
				{"spec.templates[0].dag.tasks[1].withParam", `Invalid value: "a,b": must be a JSON list`},
			},
		},
		{
			name: "withSequence needs end or count, as integers",
			doc: dagWorkflow(`
- {name: A, template: echo, withSequence: {end: 3, count: 2}}
- {name: B, template: echo, withSequence: {start: 1}}
- {name: C, template: echo, withSequence: {start: one, count: -2, format: 'n=%s%d'}}
- {name: D, template: echo, withSequence: {count: '{{workflow.parameters.n}}'}}`),
			want: []wantErr{
				{"spec.templates[0].dag.tasks[0].withSequence.count", "set end (the last number) or count (how many numbers), not both"},
				{"spec.templates[0].dag.tasks[1].withSequence", "Required value: set end (the last number, inclusive) or count"},
				{"spec.templates[0].dag.tasks[2].withSequence.start", `Invalid value: "one": must be an integer`},
				{"spec.templates[0].dag.tasks[2].withSequence.count", "must not be negative"},
				{"spec.templates[0].dag.tasks[2].withSequence.format", "must format one integer"},
				{"spec.templates[0].dag.tasks[3].withSequence.count", `spec.arguments.parameters has no parameter "n"`},
			},
		},
		{
			name: "when must compile once tags are substituted",
			doc: dagWorkflow(`
- {name: A, template: echo, when: '{{workflow.name}} =='}
- {name: B, template: echo, when: '"{{workflow.name}}" == "a" && {{workflow.uid}} > 2'}
- {name: C, template: echo, when: '{{workflow.name}} == heads )'}`),
			want: []wantErr{
				{"spec.templates[0].dag.tasks[0].when", `invalid when "\"x\" =="`},
				{"spec.templates[0].dag.tasks[2].when", `with each {{...}} tag replaced by "x": invalid when "\"x\" == heads )"`},
			},
		},
		{
			name: "tasks only see the tasks they wait for",
			doc: dagWorkflow(`
- {name: A, template: gen}
- {name: B, template: gen, depends: A}
- {name: C, template: echo, depends: A, arguments: {parameters: [{name: msg, value: "{{tasks.B.outputs.result}}"}]}}
- {name: D, template: echo, depends: B, when: "{{tasks.A.outputs.result}} != ''", withParam: "{{tasks.D.outputs.result}}"}
- {name: E, template: echo, depends: D, arguments: {parameters: [{name: msg, value: "{{tasks.Z.outputs.result}} {{tasks.A.output}}"}]}}`),
			want: []wantErr{
				{"spec.templates[0].dag.tasks[2].arguments.parameters[0].value", `Invalid value: "{{tasks.B.outputs.result}}": tasks.B is not a dependency of task C`},
				{"spec.templates[0].dag.tasks[3].withParam", "task D cannot use its own outputs in its own fields"},
				{"spec.templates[0].dag.tasks[4].arguments.parameters[0].value", `there is no task "Z" in this template`},
				{"spec.templates[0].dag.tasks[4].arguments.parameters[0].value", `tasks.A has no field "output"`},
			},
		},
		{
			name: "item is only set in tasks that loop",
			doc: dagWorkflow(`
- {name: A, template: echo, arguments: {parameters: [{name: msg, value: "{{item}}"}]}}
- name: B
  template: echo
  withParam: '["{{item}}"]'
  when: "{{item}} != skip"
  arguments: {parameters: [{name: msg, value: "{{item.key}}"}]}
  hooks:
    exit: {template: echo, arguments: {parameters: [{name: msg, value: "{{item}}"}]}}`),
			want: []wantErr{
				{"spec.templates[0].dag.tasks[0].arguments.parameters[0].value", "{{item}} is only set in the arguments and when of a task or step that loops"},
				{"spec.templates[0].dag.tasks[1].withParam", "{{item}} is only set in the arguments and when"},
				{"spec.templates[0].dag.tasks[1].hooks[exit].arguments.parameters[0].value", "{{item}} is only set in the arguments and when"},
			},
		},
		{
			name: "task hooks",
			doc: dagWorkflow(`
- name: A
  template: echo
  onExit: cleanup
  hooks:
    running: {template: echo}
    bad.name: {template: echo, expression: 'true'}`),
			want: []wantErr{
				{"spec.templates[0].dag.tasks[0].onExit", `no template is named "cleanup"`},
				{"spec.templates[0].dag.tasks[0].hooks[running].expression", `a hook other than "exit" runs once its expression holds`},
				{"spec.templates[0].dag.tasks[0].hooks[bad.name]", "a hook name must start with a letter or digit"},
			},
		},
		{
			name: "dag tags outside tasks",
			doc:  withTemplates("- name: main\n  dag:\n    tasks: [{name: A, template: echo}]\n- name: leaf\n  container: {image: alpine, command: ['{{tasks.A.outputs.result}}', '{{steps.A.status}}']}"),
			want: []wantErr{
				{"spec.templates[1].container.command[0]", "{{tasks.*}} is only set in the tasks of a dag template and in that template's outputs"},
				{"spec.templates[1].container.command[1]", "{{steps.*}} is only set in the steps of a steps template"},
			},
		},
		{
			name: "step names are unique across groups, valid and not reserved",
			doc:  stepsWorkflow("- - {name: A, template: echo}\n- - {name: A, template: echo}\n  - {name: onExit, template: echo}\n  - {name: -x, template: echo}"),
			want: []wantErr{
				{"spec.templates[0].steps[1][0].name", "step names must be unique, and spec.templates[0].steps[0][0].name has this name too"},
				{"spec.templates[0].steps[1][1].name", `"onExit" is reserved`},
				{"spec.templates[0].steps[1][2].name", "a step name must start with a letter or digit"},
			},
		},
		{
			name: "steps call templates that exist",
			doc:  stepsWorkflow("- - {name: A, template: nope}\n  - {name: B}"),
			want: []wantErr{
				{"spec.templates[0].steps[0][0].template", `no template is named "nope"`},
				{"spec.templates[0].steps[0][1].template", "Required value: set template"},
			},
		},
		{
			name: "steps only see steps of earlier groups",
			doc: stepsWorkflow(`
- - {name: A, template: gen}
  - {name: B, template: echo, arguments: {parameters: [{name: msg, value: "{{steps.A.outputs.result}}"}]}}
- - {name: C, template: echo, arguments: {parameters: [{name: msg, value: "{{steps.A.outputs.result}} {{steps.D.status}} {{tasks.A.status}}"}]}}
  - {name: D, template: echo, hooks: {exit: {template: echo, arguments: {parameters: [{name: msg, value: "{{steps.D.status}}"}]}}}}`),
			want: []wantErr{
				{"spec.templates[0].steps[0][1].arguments.parameters[0].value", "steps.A is in steps[0], not in a group before step B (steps[0]): a step only sees steps of earlier groups"},
				{"spec.templates[0].steps[1][0].arguments.parameters[0].value", "steps.D is in steps[1]"},
				{"spec.templates[0].steps[1][0].arguments.parameters[0].value", "{{tasks.*}} is only set in the tasks of a dag template"},
			},
		},
		{
			name: "steps loops and when",
			doc:  stepsWorkflow("- - {name: A, template: echo, withItems: [a], withSequence: {count: 2}, when: '{{item}} ==='}\n- - {name: B, template: echo, arguments: {parameters: [{name: msg, value: '{{item}}'}]}}"),
			want: []wantErr{
				{"spec.templates[0].steps[0][0].withSequence", "withItems is set too"},
				{"spec.templates[0].steps[0][0].when", "invalid when"},
				{"spec.templates[0].steps[1][0].arguments.parameters[0].value", "{{item}} is only set in the arguments and when"},
			},
		},
		{
			name: "spec hook arguments see only workflow variables",
			doc:  document("Workflow", "entrypoint: main\nhooks:\n  exit: {template: main, arguments: {parameters: [{name: a, value: '{{inputs.parameters.a}} {{workflow.parameters.b}}'}]}}\ntemplates:\n- {name: main, suspend: {}}"),
			want: []wantErr{
				{"spec.hooks[exit].arguments.parameters[0].value", "there are no inputs here"},
				{"spec.hooks[exit].arguments.parameters[0].value", `spec.arguments.parameters has no parameter "b"`},
			},
		},
		{
			name: "empty dag and steps",
			doc:  withTemplates("- name: main\n  dag: {tasks: []}\n- name: s\n  steps: []"),
			want: []wantErr{
				{"spec.templates[0].dag.tasks", "a dag needs at least one task"},
				{"spec.templates[1].steps", "a steps template needs at least one group of steps"},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkErrors(t, validateDocument(t, c.doc), c.want)
		})
	}
}

func TestValidateNil(t *testing.T) {
	if errs := ValidateWorkflow(nil); len(errs) != 1 || errs[0].Type != field.ErrorTypeRequired {
		t.Errorf("ValidateWorkflow(nil) = %v, want one Required error", errs)
	}
	if errs := ValidateWorkflowSpec(nil, field.NewPath("spec"), true); len(errs) != 1 {
		t.Errorf("ValidateWorkflowSpec(nil) = %v, want one error", errs)
	}
}

// TestValidateWorkflowSpecPath checks that errors name the path given.
func TestValidateWorkflowSpecPath(t *testing.T) {
	spec := &WorkflowSpec{Templates: []Template{{Name: "main", Suspend: &SuspendTemplate{Duration: "x"}}}}
	errs := ValidateWorkflowSpec(spec, field.NewPath("status", "storedWorkflowTemplateSpec"), true)
	checkErrors(t, errs, []wantErr{
		{"status.storedWorkflowTemplateSpec.entrypoint", "Required value"},
		{"status.storedWorkflowTemplateSpec.templates[0].suspend.duration", "must be an integer of seconds"},
	})
}
