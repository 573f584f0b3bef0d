package manifestfile

import (
	"strings"
	"testing"
)

// Every unknown field is reported, with its full path and its own line,
// and a close known name: as kubectl's strict field validation, which
// names them all, not only the first.
func TestDecodeReportsEveryUnknownField(t *testing.T) {
	const file = `# leading comment

apiVersion: zeroflow.dev/v1alpha1
kind: Workflow
metadata:
  name: typos
  lables: {a: b}
spec:
  entrypoint: main
  arguments: {parameters: [{name: x, valu: "1"}]}
  templates:
  - name: main
    dag:
      tasks:
      - {name: a, template: leaf, dependz: b}
  - name: leaf
    container: {image: alpine, comand: [sh]}
    frobnicate: true
    metadata: {annotations: {fine: "yes"}, labels: {also: fine}}
`
	docs, err := Split("wf.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Decode(docs[0])
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		`wf.yaml:7: Workflow typos: metadata.lables: unknown field "lables" (did you mean "labels"?)`,
		`wf.yaml:10: Workflow typos: spec.arguments.parameters[0].valu: unknown field "valu" (did you mean "value"?)`,
		`wf.yaml:15: Workflow typos: spec.templates[0].dag.tasks[0].dependz: unknown field "dependz" (did you mean "depends"?)`,
		`wf.yaml:17: Workflow typos: spec.templates[1].container.comand: unknown field "comand" (did you mean "command"?)`,
		`wf.yaml:18: Workflow typos: spec.templates[1].frobnicate: unknown field "frobnicate"`,
		// Argo's template metadata is not one of zeroflow's fields yet.
		`wf.yaml:19: Workflow typos: spec.templates[1].metadata: unknown field "metadata"`,
	}
	got := strings.Split(err.Error(), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

// Maps take any key, and what decodes itself (any-strings, raw JSON) is
// not walked into; a valid document has no unknown fields.
func TestDecodeKnowsMapsAndSelfDecodingTypes(t *testing.T) {
	const file = `apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: hooks, annotations: {anything: goes}}
spec:
  webhook:
    push: {port: "12000", endpoint: /push, method: POST, url: x, filtr: {expression: "true"}}
`
	docs, err := Split("es.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Decode(docs[0])
	if err == nil || !strings.Contains(err.Error(), `es.yaml:6: EventSource hooks: spec.webhook.push.filtr: unknown field "filtr" (did you mean "filter"?)`) {
		t.Errorf("err = %v, want url named under the map key", err)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"value", "valu", 1}, {"depends", "dependz", 1}, {"labels", "lables", 2}, {"abc", "xyz", 3}, {"", "ab", 2}, {"same", "same", 0},
	} {
		if got := editDistance(tc.a, tc.b, 3); got != tc.want {
			t.Errorf("%q %q: %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// A document with more unknown fields than the bound reports the bound
// and says there are more.
func TestUnknownFieldsAreBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: zeroflow.dev/v1alpha1\nkind: Workflow\nmetadata: {name: many}\nspec:\n  entrypoint: main\n")
	for i := range 2 * maxUnknownFields {
		b.WriteString("  junk" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ": 1\n")
	}
	docs, err := Split("many.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Decode(docs[0])
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxUnknownFields+1 || !strings.Contains(lines[len(lines)-1], "more unknown fields not shown") {
		t.Errorf("%d lines, last %q; want %d and a note", len(lines), lines[len(lines)-1], maxUnknownFields+1)
	}
}
