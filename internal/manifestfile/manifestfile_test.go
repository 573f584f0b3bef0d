package manifestfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	if docs[1].Line != 10 || docs[1].Namespace != "ns" || docs[1].Source() != "x.yaml:10" {
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
	if _, err := Decode(docs[0]); err == nil || !strings.Contains(err.Error(), `wf.yaml:1: Workflow typo: error unmarshaling JSON: while decoding JSON: json: unknown field "dependencie"`) {
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
