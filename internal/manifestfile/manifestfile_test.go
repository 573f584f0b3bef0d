package manifestfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

func TestSplitKeepsLinesAndSkipsEmptyDocuments(t *testing.T) {
	in := `# leading comment
---
apiVersion: zeroflow.dev/v1alpha1
kind: WorkflowTemplate
metadata: {name: a}
spec: {templates: [{name: m, function: {name: f}}]}
---
# only a comment
---

apiVersion: v1
kind: ConfigMap
metadata: {name: b, namespace: ns}
`
	docs, err := Split("x.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 {
		t.Fatalf("%d documents", len(docs))
	}
	if docs[0].Line != 3 || docs[0].Kind != "WorkflowTemplate" || docs[0].Name != "a" {
		t.Errorf("first = %+v", docs[0])
	}
	// The first non-blank line: a line of Raw maps to the file's.
	if docs[1].Line != 11 || docs[1].Namespace != "ns" || docs[1].Source() != "x.yaml:11" {
		t.Errorf("second = %+v", docs[1])
	}
}

func TestSplitNamesTheBrokenDocument(t *testing.T) {
	_, err := Split("bad.yaml", []byte("kind: A\n---\nkind: [unclosed\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "bad.yaml:3: not valid YAML") {
		t.Errorf("err = %v", err)
	}
	_, err = Split("nokind.yaml", []byte("metadata: {name: x}\n"))
	if err == nil || err.Error() != "nokind.yaml:1: the document has no kind" {
		t.Errorf("err = %v", err)
	}
}

func TestDecodeIsStrictAndValidates(t *testing.T) {
	docs, err := Split("wf.yaml", []byte(`apiVersion: zeroflow.dev/v1alpha1
kind: Workflow
metadata: {name: typo}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: A, template: main, dependencie: [B]}
---
apiVersion: zeroflow.dev/v1alpha1
kind: Workflow
metadata: {name: cycle}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: A, template: w, depends: B}
      - {name: B, template: w, depends: A}
  - {name: w, function: {name: w}}
---
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: argo}
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(docs[0]); err == nil || !strings.Contains(err.Error(), `wf.yaml:10: Workflow typo: spec.templates[0].dag.tasks[0].dependencie: unknown field "dependencie" (did you mean "dependencies"?)`) {
		t.Errorf("typo: err = %v", err)
	}
	obj, err := Decode(docs[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(obj.Errors) != 1 || !strings.Contains(obj.Errors[0].Error(), "dependency cycle") {
		t.Errorf("cycle: errors = %v", obj.Errors)
	}
	var unknown ErrUnknownKind
	if _, err := Decode(docs[2]); !errors.As(err, &unknown) || !strings.Contains(err.Error(), "kind Workflow of argoproj.io/v1alpha1 is not a zeroflow kind") {
		t.Errorf("argo kind: err = %v", err)
	}
}

func TestLoadWalksDirectoriesInOrder(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.yaml", "kind: B\nmetadata: {name: b}\n")
	write("a/x.yml", "kind: A\nmetadata: {name: a}\n")
	write("notes.txt", "kind: Ignored\n")
	docs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].Kind != "A" || docs[1].Kind != "B" {
		t.Errorf("docs = %+v", docs)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing path must be an error")
	}
}

func TestDecodeEventSourceAndSensor(t *testing.T) {
	docs, err := Split("events.yaml", []byte(`apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: hooks}
spec:
  webhook:
    push: {port: "12000", endpoint: /push, method: POST}
---
apiVersion: zeroflow.dev/v1alpha1
kind: Sensor
metadata: {name: on-push}
spec:
  dependencies:
  - {name: push, eventSourceName: hooks, eventName: push}
  triggers:
  - template: {name: log, log: {}}
---
apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: bad-hooks}
spec:
  webhook:
    push: {port: "99999", endpoint: push, method: POST}
---
apiVersion: zeroflow.dev/v1alpha1
kind: Sensor
metadata: {name: bad-sensor}
spec:
  dependencies:
  - name: push
    eventSourceName: hooks
    eventName: push
    filters:
      data: [{path: body.ref, type: string, value: ["(main"]}]
  triggers:
  - template: {name: log, conditions: push && tag, log: {}}
    parameters: [{src: {dependencyName: push, dataKey: x}}]
---
apiVersion: zeroflow.dev/v1alpha1
kind: Sensor
metadata: {name: typo}
spec:
  dependencies:
  - {name: push, eventSourceName: hooks, evntName: push}
---
apiVersion: zeroflow.dev/v1alpha1
kind: Sensor
spec:
  dependencies:
  - {name: push, eventSourceName: hooks, eventName: push}
  triggers:
  - template: {name: log, log: {}}
---
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata: {name: argo}
`))
	if err != nil {
		t.Fatal(err)
	}
	decode := func(i int) Object {
		t.Helper()
		obj, err := Decode(docs[i])
		if err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		return obj
	}
	paths := func(o Object) string {
		var p []string
		for _, e := range o.Errors {
			p = append(p, e.Field)
		}
		return strings.Join(p, ", ")
	}

	if o := decode(0); len(o.Errors) != 0 {
		t.Errorf("valid EventSource: %v", o.Errors)
	} else if es, ok := o.Value.(*v1alpha1.EventSource); !ok || es.Spec.Webhook["push"].Port != "12000" {
		t.Errorf("EventSource value = %#v", o.Value)
	}
	if o := decode(1); len(o.Errors) != 0 {
		t.Errorf("valid Sensor: %v", o.Errors)
	} else if s, ok := o.Value.(*v1alpha1.Sensor); !ok || s.Spec.Triggers[0].Template.Name != "log" {
		t.Errorf("Sensor value = %#v", o.Value)
	}
	if got, want := paths(decode(2)), "spec.webhook[push].endpoint, spec.webhook[push].port"; got != want {
		t.Errorf("invalid EventSource: error paths %q, want %q", got, want)
	}
	// The filter and parameter errors show that Decode runs sensor.Validate,
	// not only the structural v1alpha1.ValidateSensor.
	if got, want := paths(decode(3)), "spec.triggers[0].template.conditions, spec.dependencies[0].filters.data[0].value[0], spec.triggers[0].parameters[0].dest"; got != want {
		t.Errorf("invalid Sensor: error paths %q, want %q", got, want)
	}
	if _, err := Decode(docs[4]); err == nil || !strings.Contains(err.Error(), `events.yaml:43: Sensor typo: spec.dependencies[0].evntName: unknown field "evntName" (did you mean "eventName"?)`) {
		t.Errorf("typo: err = %v", err)
	}
	if o := decode(5); paths(o) != "metadata.name" {
		t.Errorf("nameless Sensor: want one metadata.name error, got %v", o.Errors)
	}
	var unknown ErrUnknownKind
	if _, err := Decode(docs[6]); !errors.As(err, &unknown) {
		t.Errorf("argo Sensor: err = %v, want ErrUnknownKind", err)
	}
}
