package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func run(args ...string) (int, string) {
	var out bytes.Buffer
	code := Execute(context.Background(), args, &out, &out)
	return code, out.String()
}

func TestLintAcceptsValidManifests(t *testing.T) {
	code, out := run("lint", "testdata/lint/good")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"ok: testdata/lint/good/wft.yaml:1: WorkflowTemplate lib",
		"skipped: testdata/lint/good/wft.yaml:9: Workflow from-argo: kind Workflow of argoproj.io/v1alpha1 is not a zeroflow kind this version serves (to port it, set apiVersion: zeroflow.dev/v1alpha1)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestLintReportsEveryProblemWithItsPlace(t *testing.T) {
	code, out := run("lint", "testdata/lint/bad")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		"error: testdata/lint/bad/broken.yaml:1: not valid YAML",
		`error: testdata/lint/bad/cycle.yaml:1: Workflow loops: spec.templates[0].dag.tasks: Invalid value: "A -> B -> A": dependency cycle`,
		`error: testdata/lint/bad/cycle.yaml:16: Workflow missing: spec.templates[0].dag.tasks[0].template: Not found: "nowhere"`,
		`error: testdata/lint/bad/typo.yaml:1: WorkflowTemplate typo: error unmarshaling JSON: while decoding JSON: json: unknown field "functon"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestLintNeedsAPath(t *testing.T) {
	if code, out := run("lint"); code != 1 || !strings.Contains(out, "requires at least 1 arg") {
		t.Errorf("exit %d: %s", code, out)
	}
	if code, out := run("lint", "testdata/nope"); code != 1 || !strings.Contains(out, "no such file or directory") {
		t.Errorf("exit %d: %s", code, out)
	}
}
