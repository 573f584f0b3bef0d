package devstack

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// TestResourceEventSourceTriggersASensor: a resource event (an
// ApiServerSource, run locally by watching the API) sends an event for each
// matching object; the sensor submits a workflow with the object's name.
func TestResourceEventSourceTriggersASensor(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server")
	}
	doc := `apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: templates}
spec:
  resource:
    created:
      group: zeroflow.dev
      version: v1alpha1
      resource: workflowtemplates
      kind: WorkflowTemplate
      filter:
        labels: [{key: watch, operation: "==", value: "yes"}]
---
apiVersion: zeroflow.dev/v1alpha1
kind: Sensor
metadata: {name: on-template}
spec:
  dependencies:
  - name: t
    eventSourceName: templates
    eventName: created
    filters:
      context: {type: dev.knative.apiserver.resource.add}
  triggers:
  - template:
      name: run
      workflow:
        operation: submit
        source:
          resource:
            apiVersion: zeroflow.dev/v1alpha1
            kind: Workflow
            metadata: {generateName: seen-}
            spec:
              entrypoint: main
              arguments: {parameters: [{name: template, value: none}]}
              templates:
              - name: main
                script: {image: alpine, command: [sh], source: "echo {{workflow.parameters.template}}"}
        parameters:
        - src: {dependencyName: t, dataKey: metadata.name}
          dest: spec.arguments.parameters.0.value
`
	ctx, _, client := startWith(t, doc)
	for name, labels := range map[string]map[string]string{"watched": {"watch": "yes"}, "ignored": {"watch": "no"}} {
		wt := &v1alpha1.WorkflowTemplate{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: DefaultNamespace, Labels: labels}}
		wt.Spec.Templates = []v1alpha1.Template{{Name: "main", Script: &v1alpha1.ScriptTemplate{Source: "true"}}}
		if err := client.CreateWorkflowTemplate(ctx, wt); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		l, err := client.ListWorkflows(ctx, DefaultNamespace, metav1.ListOptions{})
		if err == nil && len(l.Items) > 0 && l.Items[0].Status.Phase == v1alpha1.WorkflowSucceeded {
			if v := l.Items[0].Spec.Arguments.Parameters[0].Value; v == nil || string(*v) != "watched" {
				t.Fatalf("workflow for %v, want the watched template", v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no workflow after 60s (%v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The unlabelled template sends nothing.
	time.Sleep(time.Second)
	if l, _ := client.ListWorkflows(ctx, DefaultNamespace, metav1.ListOptions{}); len(l.Items) != 1 {
		t.Errorf("%d workflows, want 1", len(l.Items))
	}
}
