package v1alpha1

import "testing"

// TestValidateInputTags: a template's inputs.parameters[].value and default
// are resolved before it runs from the global variables, as Argo's
// common.SubstituteParams does (globals first, then inputs), so lint
// accepts every global there (Argo's docs/variables.md, "Global") and
// rejects what the engine could not resolve.
func TestValidateInputTags(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want []wantErr
	}{
		{
			name: "globals in input values and defaults",
			doc: document("Workflow", `
entrypoint: main
arguments: {parameters: [{name: title, value: Peak}]}
templates:
- name: main
  inputs:
    parameters:
    - {name: a, value: "{{workflow.parameters.title}}"}
    - {name: b, default: "{{workflow.name}} {{workflow.namespace}} {{workflow.uid}} {{workflow.creationTimestamp}}"}
    - {name: c, default: "{{workflow.labels.workflows.argoproj.io/cron-workflow}}"}
    - {name: d, default: "{{workflow.annotations.workflows.argoproj.io/scheduled-time}}"}
    - {name: e, valueFrom: {default: "{{=upper(workflow.parameters.title)}}"}}
  container: {image: alpine, command: [echo, "{{inputs.parameters.a}}"]}`),
		},
		{
			name: "an unknown workflow parameter in a default",
			doc: document("Workflow", `
entrypoint: main
arguments: {parameters: [{name: title, value: Peak}]}
templates:
- name: main
  inputs: {parameters: [{name: a, default: "{{workflow.parameters.titel}}"}]}
  container: {image: alpine}`),
			want: []wantErr{{"spec.templates[0].inputs.parameters[0].default", `spec.arguments.parameters has no parameter "titel"`}},
		},
		{
			name: "another input or the attempt in an input",
			doc: document("Workflow", `
entrypoint: main
templates:
- name: main
  inputs:
    parameters:
    - {name: a, default: x}
    - {name: b, default: "{{inputs.parameters.a}}"}
    - {name: c, value: "{{retries}}"}
  container: {image: alpine}`),
			want: []wantErr{
				{"spec.templates[0].inputs.parameters[1].default", "sees only the global variables"},
				{"spec.templates[0].inputs.parameters[2].value", "{{retries}} is not set in a template's inputs"},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkErrors(t, validateDocument(t, c.doc), c.want)
		})
	}
}

// TestValidateResourceFlags: Argo's resource templates take kubectl flags
// (docs/resource-template.md, flags); zeroflow honours --ignore-not-found on
// delete and reports the rest instead of ignoring them.
func TestValidateResourceFlags(t *testing.T) {
	doc := func(action, flags string) string {
		return document("Workflow", `
entrypoint: main
templates:
- name: main
  resource:
    action: `+action+`
    flags: `+flags+`
    manifest: "{apiVersion: v1, kind: ConfigMap, metadata: {name: x}}"`)
	}
	checkErrors(t, validateDocument(t, doc("delete", `["--ignore-not-found"]`)), nil)
	checkErrors(t, validateDocument(t, doc("delete", `["--ignore-not-found=true"]`)), nil)
	checkErrors(t, validateDocument(t, doc("delete", `["--validate=false"]`)),
		[]wantErr{{"spec.templates[0].resource.flags[0]", `Unsupported value: "--validate=false"`}})
	checkErrors(t, validateDocument(t, doc("create", `["--ignore-not-found"]`)),
		[]wantErr{{"spec.templates[0].resource.flags[0]", "--ignore-not-found applies to delete"}})
}
