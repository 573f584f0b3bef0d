package devstack

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
)

// TestCronWorkflowRunsOnItsSchedule: zeroflow dev runs a CronWorkflow's
// PingSource (as render makes it), whose firings go through the broker and
// the rendered Trigger to the controller, which starts the runs, counts
// them and trims them to the history limit.
func TestCronWorkflowRunsOnItsSchedule(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server")
	}
	doc := `apiVersion: zeroflow.dev/v1alpha1
kind: CronWorkflow
metadata: {name: every-second}
spec:
  schedules: ["* * * * * *"]
  successfulJobsHistoryLimit: 2
  workflowMetadata: {labels: {source: cron}}
  workflowSpec:
    entrypoint: main
    templates:
    - name: main
      script: {image: alpine, command: [sh], source: "echo tick"}
`
	ctx, s, client := startWith(t, doc)
	if !strings.Contains(strings.Join(s.Endpoints, "\n"), "cron     default/every-second") {
		t.Errorf("endpoints do not show the CronWorkflow: %v", s.Endpoints)
	}
	var (
		cw  *v1alpha1.CronWorkflow
		err error
	)
	deadline := time.Now().Add(60 * time.Second)
	for {
		cw, err = client.GetCronWorkflow(ctx, DefaultNamespace, "every-second")
		if err == nil && cw.Status.Succeeded >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: %+v, %v", cw.Status, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if cw.Status.LastScheduledTime == nil {
		t.Error("no lastScheduledTime")
	}
	runs, err := client.ListWorkflows(ctx, DefaultNamespace, metav1.ListOptions{LabelSelector: "source=cron"})
	if err != nil {
		t.Fatal(err)
	}
	succeeded := 0
	for _, r := range runs.Items {
		if !strings.HasPrefix(r.Name, "every-second-") {
			t.Errorf("run %s", r.Name)
		}
		if r.Status.Phase == v1alpha1.WorkflowSucceeded {
			succeeded++
		}
	}
	// Trimmed at each firing to 2 finished runs; one more may have
	// finished since the last firing.
	if succeeded > 3 {
		t.Errorf("%d finished runs kept, want at most 2 (+1 since the last firing)", succeeded)
	}
}

// TestCalendarEventSourceTriggersASensor: a calendar event (a PingSource,
// run locally) reaches a sensor through the broker and the sensor's
// Triggers, and the sensor submits a workflow with the event's metadata.
func TestCalendarEventSourceTriggersASensor(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server")
	}
	doc := `apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: clock}
spec:
  calendar:
    tick: {interval: 1s, metadata: {team: blue}}
---
apiVersion: zeroflow.dev/v1alpha1
kind: Sensor
metadata: {name: on-tick}
spec:
  dependencies:
  - {name: t, eventSourceName: clock, eventName: tick}
  triggers:
  - template:
      name: run
      workflow:
        operation: submit
        source:
          resource:
            apiVersion: zeroflow.dev/v1alpha1
            kind: Workflow
            metadata: {generateName: tick-}
            spec:
              entrypoint: main
              arguments: {parameters: [{name: team, value: none}]}
              templates:
              - name: main
                script: {image: alpine, command: [sh], source: "echo {{workflow.parameters.team}}"}
        parameters:
        - src: {dependencyName: t, dataKey: metadata.team}
          dest: spec.arguments.parameters.0.value
`
	ctx, _, client := startWith(t, doc)
	deadline := time.Now().Add(60 * time.Second)
	for {
		l, err := client.ListWorkflows(ctx, DefaultNamespace, metav1.ListOptions{})
		ok := 0
		if err == nil {
			for _, wf := range l.Items {
				if wf.Status.Phase == v1alpha1.WorkflowSucceeded {
					if v := wf.Spec.Arguments.Parameters[0].Value; v == nil || string(*v) != "blue" {
						t.Fatalf("workflow %s got team %v, want the event's metadata", wf.Name, v)
					}
					ok++
				}
			}
		}
		if ok >= 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s, %d succeeded workflows (%v)", ok, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startWith starts a dev stack on one manifest file holding doc, stopped
// when the test ends, and returns it with a client of its API and a
// context bounded to two minutes.
func startWith(t *testing.T, doc string) (context.Context, *Stack, *controller.Client) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "manifests.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	s, err := Start(ctx, Options{Paths: []string{dir}, DataDir: t.TempDir(), BrokerAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	client, err := controller.NewClient(s.API.Config())
	if err != nil {
		t.Fatal(err)
	}
	return ctx, s, client
}
