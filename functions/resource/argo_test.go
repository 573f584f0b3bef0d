package resource_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/resource"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// runTemplate hands the function one step.run of a workflow in team-a with
// the whole resource template.
func runTemplate(t *testing.T, rt v1alpha1.ResourceTemplate) events.StepResult {
	t.Helper()
	opts := resource.Options{Dynamic: dyn, Mapper: mapper, Artifacts: sdk.DirArtifacts{Dir: t.TempDir()}}
	run := events.StepRun{Workflow: "parent", Namespace: "team-a", UID: "u1", NodeID: "main.act", Template: v1alpha1.Template{Name: "act", Resource: &rt}}
	ev := event.New()
	ev.SetID("u1/main.act/0")
	ev.SetType(events.TypeStepRun)
	ev.SetSource("/zeroflow/controller")
	if err := ev.SetData(event.ApplicationJSON, run); err != nil {
		t.Fatal(err)
	}
	reply, err := resource.New(opts).Handle(context.Background(), ev)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	var res events.StepResult
	if err := reply.DataAs(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func logged(res events.StepResult, s string) int {
	n := 0
	for _, l := range res.LogTail {
		n += strings.Count(l, s)
	}
	return n
}

var cronWorkflows = v1alpha1.SchemeGroupVersion.WithResource("cronworkflows")

// An Argo resource template's manifest says argoproj.io/v1alpha1; where
// Argo is not installed (this API server serves zeroflow's CRDs only), it
// acts on zeroflow's kind of the same name, and the step's log says so once.
func TestAResourceStepMapsArgoKindsToZeroflows(t *testing.T) {
	ctx := context.Background()
	argoCron := `
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: peak-20261203}
spec:
  schedule: "0 8 3 12 *"
  workflowSpec:
    entrypoint: main
    templates:
    - {name: main, suspend: {}}
`
	res := runTemplate(t, v1alpha1.ResourceTemplate{Action: "create", Manifest: argoCron})
	if res.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("create an Argo CronWorkflow: %s %s", res.Phase, res.Message)
	}
	if _, err := dyn.Resource(cronWorkflows).Namespace("team-a").Get(ctx, "peak-20261203", metav1.GetOptions{}); err != nil {
		t.Fatalf("the zeroflow CronWorkflow: %v", err)
	}
	if n := logged(res, "Argo manifest converted"); n != 1 {
		t.Errorf("want one log line naming the conversion, got %d: %q", n, res.LogTail)
	}
	for _, action := range []string{"apply", "patch"} {
		if res := runTemplate(t, v1alpha1.ResourceTemplate{Action: action, Manifest: argoCron}); res.Phase != v1alpha1.NodeSucceeded {
			t.Errorf("%s an Argo CronWorkflow: %s %s", action, res.Phase, res.Message)
		}
	}
	del := "{apiVersion: argoproj.io/v1alpha1, kind: CronWorkflow, metadata: {name: peak-20261203}}"
	if res := runTemplate(t, v1alpha1.ResourceTemplate{Action: "delete", Manifest: del}); res.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("delete an Argo CronWorkflow: %s %s", res.Phase, res.Message)
	}
	if _, err := dyn.Resource(cronWorkflows).Namespace("team-a").Get(ctx, "peak-20261203", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("still there after delete (get: %v)", err)
	}
	cwt := "{apiVersion: argoproj.io/v1alpha1, kind: ClusterWorkflowTemplate, metadata: {name: lib}}"
	if res := runTemplate(t, v1alpha1.ResourceTemplate{Action: "create", Manifest: cwt}); res.Phase != v1alpha1.NodeError ||
		!strings.Contains(res.Message, "ClusterWorkflowTemplate of argoproj.io/v1alpha1 has no zeroflow counterpart") {
		t.Errorf("create a ClusterWorkflowTemplate: %s %s", res.Phase, res.Message)
	}
}

// As Argo's (kubectl delete): deleting a missing object fails the step,
// naming it; flags: [--ignore-not-found] makes it succeed.
func TestAResourceDeleteOfAMissingObject(t *testing.T) {
	// The case: a name built from an unresolved tag.
	missing := `{apiVersion: zeroflow.dev/v1alpha1, kind: CronWorkflow, metadata: {name: "peak-{{workflow.parameters.title}}"}}`
	res := runTemplate(t, v1alpha1.ResourceTemplate{Action: "delete", Manifest: missing})
	if res.Phase != v1alpha1.NodeFailed {
		t.Fatalf("phase %s (%s), want Failed", res.Phase, res.Message)
	}
	for _, want := range []string{"delete CronWorkflow peak-{{workflow.parameters.title}}", `namespace "team-a"`, "not found", "--ignore-not-found"} {
		if !strings.Contains(res.Message, want) {
			t.Errorf("message %q does not name %q", res.Message, want)
		}
	}
	if logged(res, "deleted") != 0 {
		t.Errorf("a failed delete logged a deletion: %q", res.LogTail)
	}
	res = runTemplate(t, v1alpha1.ResourceTemplate{Action: "delete", Manifest: missing, Flags: []string{"--ignore-not-found"}})
	if res.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("with --ignore-not-found: %s %s", res.Phase, res.Message)
	}
	if logged(res, "not found, nothing to delete") != 1 {
		t.Errorf("log %q", res.LogTail)
	}
}
