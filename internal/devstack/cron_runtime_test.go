package devstack

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
)

// TestCronWorkflowCreatedAtRunTimeFires: a CronWorkflow created through
// the API while the stack runs (as a Sensor's k8s trigger creates one) is
// scheduled by the controller's watch and fires runs; deleted, it fires no
// more.
func TestCronWorkflowCreatedAtRunTimeFires(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server")
	}
	ctx, s, client := startWith(t, `apiVersion: zeroflow.dev/v1alpha1
kind: WorkflowTemplate
metadata: {name: unused}
spec:
  entrypoint: main
  templates:
  - name: main
    script: {image: alpine, command: [sh], source: "true"}
`)
	cw := &v1alpha1.CronWorkflow{}
	if err := yaml.UnmarshalStrict([]byte(`apiVersion: zeroflow.dev/v1alpha1
kind: CronWorkflow
metadata: {name: made-later, namespace: default}
spec:
  schedules: ["* * * * * *"]
  workflowSpec:
    entrypoint: main
    templates:
    - name: main
      script: {image: alpine, command: [sh], source: "echo later"}
`), cw); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateCronWorkflow(ctx, cw); err != nil {
		t.Fatal(err)
	}
	runs := func() (all, succeeded int) {
		t.Helper()
		l, err := client.ListWorkflows(ctx, DefaultNamespace, metav1.ListOptions{LabelSelector: controller.LabelCronWorkflow + "=made-later"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range l.Items {
			if r.Status.Phase == v1alpha1.WorkflowSucceeded {
				succeeded++
			}
		}
		return len(l.Items), succeeded
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, ok := runs(); ok >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("after 60s, no run of the CronWorkflow created at run time succeeded")
		}
		time.Sleep(100 * time.Millisecond)
	}

	dyn, err := dynamic.NewForConfig(s.API.Config())
	if err != nil {
		t.Fatal(err)
	}
	if err := dyn.Resource(v1alpha1.SchemeGroupVersion.WithResource("cronworkflows")).Namespace(DefaultNamespace).Delete(ctx, "made-later", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A firing under way as it went may still start one run.
	time.Sleep(1500 * time.Millisecond)
	before, _ := runs()
	time.Sleep(3 * time.Second)
	if after, _ := runs(); after != before {
		t.Errorf("the deleted CronWorkflow fired on: %d runs, then %d", before, after)
	}
}

// A CronWorkflow created at run time in a namespace that holds nothing
// else (no Broker declared or made for it at start) fires too: the stack
// makes that namespace's default Broker when the CronWorkflow appears.
func TestCronWorkflowInANewNamespaceFires(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server")
	}
	ctx, _, client := startWith(t, `apiVersion: zeroflow.dev/v1alpha1
kind: WorkflowTemplate
metadata: {name: unused}
spec:
  entrypoint: main
  templates:
  - name: main
    script: {image: alpine, command: [sh], source: "true"}
`)
	cw := &v1alpha1.CronWorkflow{}
	if err := yaml.UnmarshalStrict([]byte(`apiVersion: zeroflow.dev/v1alpha1
kind: CronWorkflow
metadata: {name: elsewhere, namespace: fresh}
spec:
  schedules: ["* * * * * *"]
  workflowSpec:
    entrypoint: main
    templates:
    - name: main
      script: {image: alpine, command: [sh], source: "echo elsewhere"}
`), cw); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateCronWorkflow(ctx, cw); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		l, err := client.ListWorkflows(ctx, "fresh", metav1.ListOptions{LabelSelector: controller.LabelCronWorkflow + "=elsewhere"})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) > 0 && l.Items[0].Status.Phase == v1alpha1.WorkflowSucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s, no run of a CronWorkflow in a new namespace succeeded")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
