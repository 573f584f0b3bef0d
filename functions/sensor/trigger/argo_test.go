package trigger_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sensor/trigger"
)

var cronWorkflows = v1alpha1.SchemeGroupVersion.WithResource("cronworkflows")

// syncBuffer is a log sink safe for the handler's writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func argoCron(name, schedule string) string {
	return `
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: ` + name + `}
spec:
  schedule: "` + schedule + `"
  workflowSpec:
    entrypoint: main
    templates:
    - {name: main, suspend: {}}
`
}

// An Argo Events sensor's k8s trigger written for argoproj.io/v1alpha1
// (the infrastructure-scaling pattern: create a CronWorkflow, later delete
// it) works against zeroflow's kinds where Argo is not installed: the API
// server here serves zeroflow's CRDs only.
func TestK8sTriggerMapsArgoKindsToZeroflows(t *testing.T) {
	ctx := context.Background()
	s := newSensorEnv()
	logs := &syncBuffer{}
	s.env.Logger = slog.New(slog.NewTextHandler(logs, nil))
	crons := dyn.Resource(cronWorkflows).Namespace("team-a")

	if err := s.fire(t, k8s(v1alpha1.K8sCreate, argoCron("peak-20261203", "0 8 3 12 *"))); err != nil {
		t.Fatalf("create an Argo CronWorkflow: %v", err)
	}
	got, err := crons.Get(ctx, "peak-20261203", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the zeroflow CronWorkflow: %v", err)
	}
	if got.GetLabels()[trigger.LabelSensor] != "s" {
		t.Errorf("labels %v", got.GetLabels())
	}
	if n := strings.Count(logs.String(), "Argo object converted"); n != 1 || !strings.Contains(logs.String(), "apiVersion=zeroflow.dev/v1alpha1") {
		t.Errorf("want one log line naming the conversion, got:\n%s", logs)
	}

	patch := `
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: peak-20261203}
spec: {suspend: true}
`
	if err := s.fire(t, k8s(v1alpha1.K8sPatch, patch)); err != nil {
		t.Fatalf("patch an Argo CronWorkflow: %v", err)
	}
	if got, _ = crons.Get(ctx, "peak-20261203", metav1.GetOptions{}); got.Object["spec"].(map[string]any)["suspend"] != true {
		t.Errorf("not patched: %v", got.Object["spec"])
	}
	if err := s.fire(t, k8s(v1alpha1.K8sUpdate, argoCron("peak-20261203", "0 9 3 12 *"))); err != nil {
		t.Fatalf("update an Argo CronWorkflow: %v", err)
	}
	if got, _ = crons.Get(ctx, "peak-20261203", metav1.GetOptions{}); got.Object["spec"].(map[string]any)["schedule"] != "0 9 3 12 *" {
		t.Errorf("not updated: %v", got.Object["spec"])
	}

	del := "{apiVersion: argoproj.io/v1alpha1, kind: CronWorkflow, metadata: {name: peak-20261203}}"
	if err := s.fire(t, k8s(v1alpha1.K8sDelete, del)); err != nil {
		t.Fatalf("delete an Argo CronWorkflow: %v", err)
	}
	if _, err := crons.Get(ctx, "peak-20261203", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("still there after delete (get: %v)", err)
	}

	// A kind Argo has and zeroflow does not says so.
	cwt := "{apiVersion: argoproj.io/v1alpha1, kind: ClusterWorkflowTemplate, metadata: {name: lib}}"
	err = s.fire(t, k8s(v1alpha1.K8sCreate, cwt))
	if err == nil || !trigger.IsPermanent(err) || !strings.Contains(err.Error(), "ClusterWorkflowTemplate of argoproj.io/v1alpha1 has no zeroflow counterpart") {
		t.Errorf("create a ClusterWorkflowTemplate: %v", err)
	}
}

// Argo Events reports a delete of a missing object as an error; so does
// zeroflow, and does not retry it (it cannot come to exist by retrying).
func TestK8sTriggerDeleteOfAMissingObjectIsAnError(t *testing.T) {
	s := newSensorEnv()
	err := s.fire(t, k8s(v1alpha1.K8sDelete, workflowDoc("never-was", "")))
	if err == nil {
		t.Fatal("a delete of a missing object succeeded")
	}
	if !trigger.IsPermanent(err) {
		t.Errorf("%v would be retried", err)
	}
	for _, want := range []string{"delete", "team-a/never-was", "not found"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}
