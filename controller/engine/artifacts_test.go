package engine_test

import (
	"strings"
	"testing"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

// artifactTemplates produce and consume artifacts: gen writes "out",
// use reads "in" at /tmp/in, maybe reads an optional "in".
const artifactTemplates = `
- name: gen
  outputs: {artifacts: [{name: out, path: /tmp/out}]}
  function: {name: gen, payload: "{{outputs.artifacts.out.path}}"}
- name: gen-opt
  outputs: {artifacts: [{name: out, path: /tmp/out, optional: true}]}
  function: {name: gen}
- name: use
  inputs: {artifacts: [{name: in, path: /tmp/in}]}
  script: {image: alpine, source: "cat {{inputs.artifacts.in.path}}"}
- name: maybe
  inputs: {artifacts: [{name: in, path: /tmp/in, optional: true}]}
  function: {name: maybe}
`

// key is where attempt a of node id writes its artifact name.
func key(id string, attempt int32, name string) string {
	return "artifacts/default/wf/" + id + "/" + string(rune('0'+attempt)) + "/" + name + ".tgz"
}

func okArtifacts(id string, attempt int32, kv ...string) Input {
	a := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		a[k] = v
	}
	return result(id, attempt, v1alpha1.NodeSucceeded, "", &v1alpha1.NodeOutputs{Artifacts: a})
}

// dispatchedArtifact checks where dispatch id reads input artifact name
// ("" = the artifact is not in the step's inputs at all).
func dispatchedArtifact(id, name, want string) func(*testing.T, engine.Outcome) {
	return func(t *testing.T, o engine.Outcome) {
		t.Helper()
		for _, d := range o.Dispatch {
			if d.NodeID != id {
				continue
			}
			for _, a := range d.Template.Inputs.Artifacts {
				if a.Name == name {
					got := a.Key
					if a.Raw != nil {
						got = "raw:" + a.Raw.Data
					}
					if a.S3 != nil {
						got = "s3:" + a.S3.Bucket + "/" + a.S3.Key
					}
					if got != want {
						t.Errorf("dispatch %s: inputs.artifacts.%s = %q, want %q", id, name, got, want)
					}
					return
				}
			}
			if want != "" {
				t.Errorf("dispatch %s has no input artifact %s: %+v", id, name, d.Template.Inputs.Artifacts)
			}
			return
		}
		t.Errorf("no dispatch of %s in %v", id, o.Dispatch)
	}
}

func TestArtifacts(t *testing.T) {
	runCases(t, []engineCase{
		{
			name: "an artifact passes across three levels and comes back up as a dag's output",
			wf: `
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: outer, template: middle}
      - name: read
        template: use
        depends: outer
        arguments: {artifacts: [{name: in, from: "{{tasks.outer.outputs.artifacts.result}}"}]}
  - name: middle
    outputs:
      artifacts:
      - {name: result, from: "{{tasks.inner.outputs.artifacts.out}}"}
    dag:
      tasks:
      - {name: inner, template: gen}
` + leaves + indent(artifactTemplates, 2),
			steps: []step{
				{in: submit(), dispatch: []string{"main.outer.inner"}, check: func(t *testing.T, o engine.Outcome) {
					if got := o.Dispatch[0].Template.Function.Payload; got != "/tmp/out" {
						t.Errorf("{{outputs.artifacts.out.path}} gave %q", got)
					}
				}},
				{in: okArtifacts("main.outer.inner", 0, "out="+key("main.outer.inner", 0, "out")), dispatch: []string{"main.read"},
					check: checks(dispatchedArtifact("main.read", "in", key("main.outer.inner", 0, "out")),
						func(t *testing.T, o engine.Outcome) {
							if got := o.Status.Nodes["main.outer"].Outputs.Artifacts["result"]; got != key("main.outer.inner", 0, "out") {
								t.Errorf("main.outer outputs.artifacts.result = %q", got)
							}
							if p := o.Status.Nodes["main.outer.inner"]; p.Phase != "Succeeded" {
								t.Errorf("inner = %v", p.Phase)
							}
							if src := o.Dispatch[0].Template.Script.Source; src != "cat /tmp/in" {
								t.Errorf("{{inputs.artifacts.in.path}} gave %q", src)
							}
						})},
				{in: ok("main.read"), finished: Succeeded},
			},
		},
		{
			name: "steps pass artifacts with {{steps.X.outputs.artifacts.Y}}, and a global artifact is published",
			wf: stepsWF(`
- - {name: make, template: gen-global}
- - name: read
    template: use
    arguments: {artifacts: [{name: in, from: "{{steps.make.outputs.artifacts.out}}"}]}
- - name: again
    template: use
    arguments: {artifacts: [{name: in, from: "{{workflow.outputs.artifacts.shared}}"}]}`, "", artifactTemplates+`
- name: gen-global
  outputs: {artifacts: [{name: out, path: /tmp/out, globalName: shared}]}
  function: {name: gen}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main[0].make"}},
				{in: okArtifacts("main[0].make", 0, "out="+key("main[0].make", 0, "out")), dispatch: []string{"main[1].read"},
					check: checks(dispatchedArtifact("main[1].read", "in", key("main[0].make", 0, "out")),
						func(t *testing.T, o engine.Outcome) {
							if o.Status.Outputs == nil || len(o.Status.Outputs.Artifacts) != 1 || o.Status.Outputs.Artifacts[0].Key != key("main[0].make", 0, "out") {
								t.Errorf("status.outputs = %+v", o.Status.Outputs)
							}
						})},
				{in: ok("main[1].read"), dispatch: []string{"main[2].again"}, check: dispatchedArtifact("main[2].again", "in", key("main[0].make", 0, "out"))},
			},
		},
		{
			name: "a retry's result names its own attempt's key, and the consumer reads that one",
			wf: dagWF(`
- {name: A, template: gen-retried}
- {name: B, template: use, depends: A, arguments: {artifacts: [{name: in, from: "{{tasks.A.outputs.artifacts.out}}"}]}}`, "", artifactTemplates+`
- name: gen-retried
  retryStrategy: {limit: 2}
  outputs: {artifacts: [{name: out, path: /tmp/out}]}
  function: {name: gen}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.A"}},
				{in: failAttempt("main.A", 0), dispatch: []string{"main.A#1"}},
				{in: okArtifacts("main.A", 1, "out="+key("main.A", 1, "out")), dispatch: []string{"main.B"},
					check: dispatchedArtifact("main.B", "in", key("main.A", 1, "out"))},
			},
		},
		{
			name: "a location outside the workflow's own keys is refused",
			wf: dagWF(`
- {name: A, template: gen}`, "", artifactTemplates),
			steps: []step{
				{in: submit()},
				{in: okArtifacts("main.A", 0, "out=artifacts/default/other-wf/x/0/out.tgz"), finished: Errored,
					nodeMessages: map[string]string{"main.A": "is not this workflow's"}},
			},
		},
		{
			name: "a required output artifact that was not produced errors the node; an optional one may be missing",
			wf: dagWF(`
- {name: A, template: gen}
- {name: B, template: gen-opt}`, "", artifactTemplates),
			steps: []step{
				{in: submit()},
				{in: ok("main.B"), nodes: P("main=Running", "main.A=Running", "main.B=Succeeded")},
				{in: ok("main.A"), finished: Errored, nodeMessages: map[string]string{"main.A": "outputs.artifacts.out was not produced"}},
			},
		},
		{
			name: "from a skipped task: an optional input runs without it, a required one errors, a skipped consumer resolves nothing",
			wf: dagWF(`
- {name: A, template: gen, when: "false"}
- {name: opt, template: maybe, depends: A, arguments: {artifacts: [{name: in, from: "{{tasks.A.outputs.artifacts.out}}"}]}}
- {name: skipped, template: use, depends: A, when: "false", arguments: {artifacts: [{name: in, from: "{{tasks.A.outputs.artifacts.out}}"}]}}
- {name: req, template: use, depends: A && skipped, arguments: {artifacts: [{name: in, from: "{{tasks.A.outputs.artifacts.out}}"}]}}`, "", artifactTemplates),
			steps: []step{
				{in: submit(), dispatch: []string{"main.opt"},
					nodes:        P("main=Running", "main.A=Skipped", "main.opt=Running", "main.req=Error", "main.skipped=Skipped"),
					nodeMessages: map[string]string{"main.req": "inputs.artifacts.in"},
					check:        dispatchedArtifact("main.opt", "in", "")},
			},
		},
		{
			name: "an argument marked optional makes a required input absent-able",
			wf: dagWF(`
- {name: A, template: gen-opt}
- {name: B, template: maybe, depends: A, arguments: {artifacts: [{name: in, from: "{{tasks.A.outputs.artifacts.out}}", optional: true}]}}`, "", artifactTemplates),
			steps: []step{
				{in: submit()},
				{in: ok("main.A"), dispatch: []string{"main.B"}, check: dispatchedArtifact("main.B", "in", "")},
			},
		},
		{
			name: "fromExpression picks the artifact of the branch that ran",
			wf: dagWF(`
- {name: A, template: gen, when: "false"}
- {name: B, template: gen}
- name: C
  template: use
  depends: A && B
  arguments:
    artifacts:
    - name: in
      fromExpression: "tasks.A.status == 'Succeeded' ? tasks.A.outputs.artifacts.out : tasks.B.outputs.artifacts.out"`, "", artifactTemplates),
			steps: []step{
				{in: submit(), dispatch: []string{"main.B"}},
				{in: okArtifacts("main.B", 0, "out="+key("main.B", 0, "out")), dispatch: []string{"main.C"},
					check: dispatchedArtifact("main.C", "in", key("main.B", 0, "out"))},
			},
		},
		{
			name: "raw, s3 and key inputs: their own locations, with tags substituted, per loop item",
			wf: dagWF(`
- name: each
  template: use
  withItems: [a, b]
  arguments: {artifacts: [{name: in, s3: {bucket: logs, key: "{{workflow.name}}/{{item}}.txt"}}]}
- {name: raw, template: use, arguments: {artifacts: [{name: in, raw: {data: "hello {{workflow.name}}"}}]}}
- {name: own, template: own-raw}`, "", artifactTemplates+`
- name: own-raw
  inputs: {artifacts: [{name: in, path: /tmp/in, raw: {data: fixed}}]}
  function: {name: fn}`),
			steps: []step{
				{in: submit(), dispatch: []string{"main.each(0)", "main.each(1)", "main.raw", "main.own"},
					check: checks(
						dispatchedArtifact("main.each(0)", "in", "s3:logs/wf/a.txt"),
						dispatchedArtifact("main.each(1)", "in", "s3:logs/wf/b.txt"),
						dispatchedArtifact("main.raw", "in", "raw:hello wf"),
						dispatchedArtifact("main.own", "in", "raw:fixed"))},
			},
		},
		{
			name: "loop items write their own keys; a loop's artifacts are not aggregated",
			wf: dagWF(`
- {name: fan, template: gen, withItems: [x, y]}
- {name: last, template: use, depends: fan, arguments: {artifacts: [{name: in, from: "{{tasks.fan.outputs.artifacts.out}}"}]}}`, "", artifactTemplates),
			steps: []step{
				{in: submit(), dispatch: []string{"main.fan(0)", "main.fan(1)"}},
				{in: okArtifacts("main.fan(0)", 0, "out="+key("main.fan(0)", 0, "out"))},
				// A loop's artifacts are not aggregated (as in Argo): the
				// consumer of the group cannot resolve one and errors.
				{in: okArtifacts("main.fan(1)", 0, "out="+key("main.fan(1)", 0, "out")), finished: Errored,
					nodeMessages: map[string]string{"main.last": "inputs.artifacts.in"}},
			},
		},
		{
			name:    "an artifact with two sources is invalid",
			invalid: true,
			wf: dagWF(`
- {name: A, template: use, arguments: {artifacts: [{name: in, from: "{{tasks.B.outputs.artifacts.out}}", raw: {data: x}}]}}
- {name: B, template: gen}`, "", artifactTemplates),
		},
	})
}
