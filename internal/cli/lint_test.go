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
		`error: testdata/lint/bad/typo.yaml:7: WorkflowTemplate typo: spec.templates[0].functon: unknown field "functon" (did you mean "function"?)`,
		// A Knative Service, checked by Knative's own validation.
		"error: testdata/lint/bad/knative-service.yaml:1: Service Bad_Name: spec.template.spec.containers: Invalid value: missing field(s)",
		"error: testdata/lint/bad/knative-service.yaml:1: Service Bad_Name: spec.template.metadata.annotations.autoscaling.knative.dev/target: Invalid value: target -3 should be at least 0.01",
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

func TestLintChecksEventSourcesAndSensors(t *testing.T) {
	code, out := run("lint", "testdata/lint/good/events.yaml")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"ok: testdata/lint/good/events.yaml:1: EventSource hooks",
		"ok: testdata/lint/good/events.yaml:11: Sensor deploy-main",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "skipped") {
		t.Errorf("EventSource and Sensor are zeroflow kinds, yet lint skipped one:\n%s", out)
	}
}

// An invalid Sensor is refused with its file, line, object and the field
// path of each problem: structural ones, and those of its filters and
// parameters, which the sensor would only find when it starts.
func TestLintRejectsAnInvalidSensor(t *testing.T) {
	code, out := run("lint", "testdata/lint/bad/sensor.yaml")
	if code == 0 {
		t.Fatalf("exit 0 for an invalid Sensor:\n%s", out)
	}
	for _, want := range []string{
		`error: testdata/lint/bad/sensor.yaml:1: Sensor broken: spec.triggers[0].template.conditions: Invalid value: "push && approved": "approved" is not a dependency of this sensor`,
		`error: testdata/lint/bad/sensor.yaml:1: Sensor broken: spec.dependencies[0].filters.data[0].value[0]: Invalid value: invalid regular expression "(main"`,
		`error: testdata/lint/bad/sensor.yaml:1: Sensor broken: spec.triggers[0].template.http.payload[0].src.dependencyName: Invalid value: "approval" is not a dependency of the sensor`,
		`error: testdata/lint/bad/sensor.yaml:25: Sensor idle: spec.triggers[0].template: Required value: set one trigger kind`,
		"4 problem(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ok: ") {
		t.Errorf("an invalid Sensor was reported ok:\n%s", out)
	}
}

// The example that `make run` serves must lint clean, its EventSource and
// Sensor included.
func TestLintAcceptsTheLogPipelineExample(t *testing.T) {
	code, out := run("lint", "../../examples/log-pipeline")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"ok: ../../examples/log-pipeline/eventsource.yaml:1: EventSource workflow-a-webhook",
		"ok: ../../examples/log-pipeline/sensor.yaml:1: Sensor sensor-simple",
		"ok: ../../examples/log-pipeline/workflowtemplate.yaml:1: WorkflowTemplate wft-a-simple",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "skipped") {
		t.Errorf("lint skipped part of the example:\n%s", out)
	}
}

// A trigger's Workflow or CronWorkflow (zeroflow's or Argo's) is checked as
// a file of it would be, each problem at its path inside the Sensor; what
// a parameter sets is not a problem.
func TestLintValidatesTriggerSources(t *testing.T) {
	code, out := run("lint", "testdata/lint/bad/trigger-source.yaml")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	const at = "error: testdata/lint/bad/trigger-source.yaml:1: Sensor scale-up: spec.triggers[0].template.k8s.source.resource.spec."
	for _, want := range []string{
		at + `schedule: Invalid value: "61 * * * *"`,
		at + `workflowSpec.entrypoint: Not found: "nowhere"`,
		at + `workflowSpec.serviceAccountName: Invalid value: "Not_A_Name"`,
		`error: testdata/lint/bad/trigger-source.yaml:1: Sensor scale-up: spec.triggers[1].template.argoWorkflow.source.resource: Invalid value: "Workflow": error unmarshaling JSON: while decoding JSON: json: unknown field "podGC"`,
		"4 problem(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "arguments") || strings.Contains(out, "metadata.name") {
		t.Errorf("a value a parameter sets was reported:\n%s", out)
	}
}
