package resource_test

import (
	"context"
	"fmt"
	"os"
	"strings"
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
	"github.com/zeroflow-dev/zeroflow/functions/resource"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/kubeapi"
	"github.com/zeroflow-dev/zeroflow/manifests"
)

// The real in-process API server: RBAC would let the resource function act
// anywhere, so the namespace boundary must hold in the function itself.
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

// runStep hands the function one step.run of a workflow in ns, as the
// controller sends it, and returns the result.
func runStep(t *testing.T, opts resource.Options, ns, action, manifest string) events.StepResult {
	t.Helper()
	opts.Dynamic, opts.Mapper = dyn, mapper
	opts.Artifacts = sdk.DirArtifacts{Dir: t.TempDir()}
	run := events.StepRun{Workflow: "parent", Namespace: ns, UID: "u1", NodeID: "main.make", Template: v1alpha1.Template{
		Name:     "make",
		Resource: &v1alpha1.ResourceTemplate{Action: action, Manifest: manifest},
	}}
	ev := event.New()
	ev.SetID("u1/main.make/0")
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

func childWorkflow(name, ns string) string {
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

func exists(t *testing.T, ns, name string) bool {
	t.Helper()
	_, err := dyn.Resource(workflows).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

func wantRefused(t *testing.T, res events.StepResult, names ...string) {
	t.Helper()
	if res.Phase != v1alpha1.NodeFailed {
		t.Fatalf("phase %s (%s), want Failed", res.Phase, res.Message)
	}
	for _, n := range append(names, "--allow-namespaces") {
		if !strings.Contains(res.Message, n) {
			t.Errorf("message %q does not name %q", res.Message, n)
		}
	}
}

func TestAResourceStepActsInItsWorkflowsNamespace(t *testing.T) {
	// No namespace in the manifest: the workflow's.
	if res := runStep(t, resource.Options{}, "team-a", "create", childWorkflow("bare", "")); res.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("create without a namespace: %s %s", res.Phase, res.Message)
	}
	if !exists(t, "team-a", "bare") {
		t.Errorf("the object did not land in the workflow's namespace")
	}
	// The workflow's own namespace, named.
	if res := runStep(t, resource.Options{}, "team-a", "apply", childWorkflow("named", "team-a")); res.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("apply in the own namespace: %s %s", res.Phase, res.Message)
	}
}

func TestAResourceStepCannotActInAnotherNamespace(t *testing.T) {
	if _, err := dyn.Resource(workflows).Namespace("team-b").Create(context.Background(), mustObject(t, childWorkflow("victim", "team-b")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"create", "apply", "patch", "delete"} {
		name := "victim"
		if action == "create" {
			name = "intruder"
		}
		res := runStep(t, resource.Options{}, "team-a", action, childWorkflow(name, "team-b"))
		wantRefused(t, res, `"team-b"`, `"team-a"`)
	}
	if exists(t, "team-b", "intruder") {
		t.Errorf("a step of team-a created an object in team-b")
	}
	if !exists(t, "team-b", "victim") {
		t.Errorf("a step of team-a deleted an object of team-b")
	}
	// Cluster-scoped objects are nobody's namespace.
	crd := `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`
	wantRefused(t, runStep(t, resource.Options{}, "team-a", "create", crd), "cluster-scoped", `"team-a"`)
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	if _, err := dyn.Resource(crds).Get(context.Background(), "widgets.example.com", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a step created a cluster-scoped object (get: %v)", err)
	}

	// A cluster admin widens it: team-c for every workflow, then anything.
	if res := runStep(t, resource.Options{AllowNamespaces: []string{"team-c"}}, "team-a", "create", childWorkflow("allowed", "team-c")); res.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("create in an allowed namespace: %s %s", res.Phase, res.Message)
	}
	wantRefused(t, runStep(t, resource.Options{AllowNamespaces: []string{"team-c"}}, "team-a", "delete", childWorkflow("victim", "team-b")), `"team-b"`)
	if res := runStep(t, resource.Options{AllowNamespaces: []string{"*"}}, "team-a", "create", childWorkflow("anywhere", "team-b")); res.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("create with *: %s %s", res.Phase, res.Message)
	}
}

func mustObject(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
		t.Fatal(err)
	}
	return obj
}
