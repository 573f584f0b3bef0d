package trigger_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sensor/trigger"
	"github.com/zeroflow-dev/zeroflow/internal/kubeapi"
	"github.com/zeroflow-dev/zeroflow/manifests"
)

// The real in-process API server: the sensor's ServiceAccount may be bound
// widely, so the namespace boundary must hold in the trigger itself.
var (
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	crds, err := manifests.CRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	api, err := kubeapi.Start(ctx, kubeapi.Options{CRDs: crds, UnsafeNoFsync: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start api server:", err)
		return 1
	}
	defer api.Stop()
	if dyn, mapper, err = api.Clients(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

var workflows = v1alpha1.SchemeGroupVersion.WithResource("workflows")

// sensorEnv is the Env of a sensor in team-a; sent collects what it
// submits.
type sensorEnv struct {
	env  *trigger.Env
	mu   sync.Mutex
	sent []event.Event
}

func newSensorEnv(allow ...string) *sensorEnv {
	s := &sensorEnv{}
	s.env = &trigger.Env{
		Sensor:  &v1alpha1.Sensor{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "team-a"}},
		Dynamic: dyn,
		Mapper:  mapper,
		Send: func(_ context.Context, ev event.Event) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.sent = append(s.sent, ev)
			return nil
		},
		Logger:          slog.New(slog.DiscardHandler),
		AllowNamespaces: allow,
	}
	return s
}

func (s *sensorEnv) submitted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

// fire runs one firing of a k8s or workflow trigger whose source is inline.
func (s *sensorEnv) fire(t *testing.T, tt *v1alpha1.TriggerTemplate) error {
	t.Helper()
	r, err := trigger.New(tt, nil, s.env)
	if err != nil {
		t.Fatalf("trigger %s: %v", tt.Name, err)
	}
	return r.Run(context.Background(), trigger.Firing{Key: "k1", Events: map[string]event.Event{}})
}

func k8s(op v1alpha1.K8sOperation, source string) *v1alpha1.TriggerTemplate {
	return &v1alpha1.TriggerTemplate{Name: "t", K8s: &v1alpha1.K8sTrigger{Operation: op, Source: &v1alpha1.ArtifactLocation{Inline: source}}}
}

func wf(op v1alpha1.WorkflowOperation, source string) *v1alpha1.TriggerTemplate {
	return &v1alpha1.TriggerTemplate{Name: "t", Workflow: &v1alpha1.WorkflowTrigger{Operation: op, Source: &v1alpha1.ArtifactLocation{Inline: source}}}
}

func workflowDoc(name, ns string) string {
	meta := "{name: " + name + "}"
	if ns != "" {
		meta = "{name: " + name + ", namespace: " + ns + "}"
	}
	return `
apiVersion: zeroflow.dev/v1alpha1
kind: Workflow
metadata: ` + meta + `
spec:
  entrypoint: main
  templates:
  - {name: main, suspend: {}}
`
}

func exists(t *testing.T, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u, err := dyn.Resource(workflows).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func wantRefused(t *testing.T, err error, names ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the trigger acted; want it refused")
	}
	if !trigger.IsPermanent(err) {
		t.Errorf("refusal %v is not permanent: it would be retried", err)
	}
	for _, n := range append(names, "--allow-namespaces") {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("refusal %q does not name %q", err, n)
		}
	}
}

func TestATriggerActsInItsSensorsNamespace(t *testing.T) {
	s := newSensorEnv()
	if err := s.fire(t, k8s(v1alpha1.K8sCreate, workflowDoc("k8s-bare", ""))); err != nil {
		t.Fatalf("create without a namespace: %v", err)
	}
	if exists(t, "team-a", "k8s-bare") == nil {
		t.Errorf("the object did not land in the sensor's namespace")
	}
	if err := s.fire(t, k8s(v1alpha1.K8sCreate, workflowDoc("k8s-named", "team-a"))); err != nil {
		t.Fatalf("create in the sensor's namespace: %v", err)
	}
	if err := s.fire(t, wf("", workflowDoc("wf-own", ""))); err != nil {
		t.Fatalf("submit: %v", err)
	}
	if s.submitted() != 1 || events.Extension(s.sent[0], events.ExtNamespace) != "team-a" {
		t.Errorf("submits %v", s.sent)
	}
	if err := s.fire(t, wf(v1alpha1.WorkflowStop, workflowDoc("k8s-named", ""))); err != nil {
		t.Fatalf("stop a workflow of the sensor's namespace: %v", err)
	}
}

func TestATriggerCannotActInAnotherNamespace(t *testing.T) {
	ctx := context.Background()
	victim := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(workflowDoc("victim", "team-b")), &victim.Object); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(workflows).Namespace("team-b").Create(ctx, victim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s := newSensorEnv()
	wantRefused(t, s.fire(t, k8s(v1alpha1.K8sCreate, workflowDoc("intruder", "team-b"))), `"team-b"`, `"team-a"`)
	for _, op := range []v1alpha1.K8sOperation{v1alpha1.K8sUpdate, v1alpha1.K8sPatch, v1alpha1.K8sDelete} {
		wantRefused(t, s.fire(t, k8s(op, workflowDoc("victim", "team-b"))), `"team-b"`)
	}
	if exists(t, "team-b", "intruder") != nil {
		t.Errorf("a sensor of team-a created an object in team-b")
	}
	if v := exists(t, "team-b", "victim"); v == nil {
		t.Errorf("a sensor of team-a deleted an object of team-b")
	} else if _, ok := v.Object["spec"].(map[string]any)["shutdown"]; ok {
		t.Errorf("a sensor of team-a changed an object of team-b")
	}
	// Cluster-scoped objects are nobody's namespace.
	crd := `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  names: {kind: Gadget, plural: gadgets}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`
	wantRefused(t, s.fire(t, k8s(v1alpha1.K8sCreate, crd)), "cluster-scoped", `"team-a"`)
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	if _, err := dyn.Resource(crds).Get(ctx, "gadgets.example.com", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a sensor created a cluster-scoped object (get: %v)", err)
	}
	// Workflow triggers: neither a submit nor a control of another
	// namespace's workflow.
	wantRefused(t, s.fire(t, wf("", workflowDoc("wf-cross", "team-b"))), `"team-b"`)
	if s.submitted() != 0 {
		t.Errorf("a cross-namespace submit was sent: %v", s.sent)
	}
	wantRefused(t, s.fire(t, wf(v1alpha1.WorkflowTerminate, workflowDoc("victim", "team-b"))), `"team-b"`)
	if v := exists(t, "team-b", "victim"); v != nil {
		if _, ok := v.Object["spec"].(map[string]any)["shutdown"]; ok {
			t.Errorf("a sensor of team-a terminated a workflow of team-b")
		}
	}

	// A cluster admin widens it in the sensor function's config.
	wide := newSensorEnv("team-c")
	if err := wide.fire(t, k8s(v1alpha1.K8sCreate, workflowDoc("allowed", "team-c"))); err != nil {
		t.Fatalf("create in an allowed namespace: %v", err)
	}
	if err := wide.fire(t, wf("", workflowDoc("wf-allowed", "team-c"))); err != nil || wide.submitted() != 1 {
		t.Fatalf("submit to an allowed namespace: %v (%d sent)", err, wide.submitted())
	}
	wantRefused(t, wide.fire(t, k8s(v1alpha1.K8sDelete, workflowDoc("victim", "team-b"))), `"team-b"`)
	if err := newSensorEnv("*").fire(t, k8s(v1alpha1.K8sCreate, workflowDoc("anywhere", "team-b"))); err != nil {
		t.Fatalf("create with *: %v", err)
	}
}
