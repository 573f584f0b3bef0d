package kubeapi_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/kubeapi"
	"github.com/zeroflow-dev/zeroflow/manifests"
)

var (
	workflows = schema.GroupVersionResource{Group: "zeroflow.dev", Version: "v1alpha1", Resource: "workflows"}
	templates = schema.GroupVersionResource{Group: "zeroflow.dev", Version: "v1alpha1", Resource: "workflowtemplates"}
)

// server is shared by the tests: CRDs are installed once, since objects
// created right after a CRD is established wait on the server.
var server *kubeapi.Server

// dataDir is the shared server's data dir, where its keys are.
var dataDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	crds, err := manifests.CRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "kubeapi-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	dataDir = filepath.Join(dir, "api")
	server, err = kubeapi.Start(context.Background(), kubeapi.Options{
		DataDir:        dataDir,
		CRDs:           crds,
		UnsafeNoFsync:  true,
		KubeconfigPath: filepath.Join(dir, "kubeconfig"),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start api server:", err)
		return 1
	}
	defer server.Stop()
	return m.Run()
}

func dynamicClient(t testing.TB, cfg *rest.Config) dynamic.Interface {
	t.Helper()
	c, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func object(t testing.TB, doc string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestCRDsAreEstablishedWithPrinterColumnsAndStatus(t *testing.T) {
	c, err := apiextensionsclient.NewForConfig(server.Config())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"workflows.zeroflow.dev", "workflowtemplates.zeroflow.dev"} {
		crd, err := c.ApiextensionsV1().CustomResourceDefinitions().Get(ctx(t), name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get crd %s: %v", name, err)
		}
		v := crd.Spec.Versions[0]
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			t.Errorf("%s has no schema", name)
		}
		if name == "workflows.zeroflow.dev" {
			if v.Subresources == nil || v.Subresources.Status == nil {
				t.Errorf("%s has no status subresource", name)
			}
			var cols []string
			for _, c := range v.AdditionalPrinterColumns {
				cols = append(cols, c.Name)
			}
			if got := strings.Join(cols, ","); got != "Phase,Progress,Started,Finished,Message,Age" {
				t.Errorf("printer columns = %s", got)
			}
		}
	}
}

const validWorkflow = `
apiVersion: zeroflow.dev/v1alpha1
kind: Workflow
metadata: {name: valid, namespace: team-a}
spec:
  entrypoint: main
  arguments:
    parameters: [{name: count, value: 3}]
  templates:
  - name: main
    dag:
      tasks:
      - {name: A, template: work, withItems: [1, {x: 2}]}
      - {name: B, template: work, depends: A.AnySucceeded}
  - name: work
    retryStrategy: {limit: "2", backoff: {duration: "1", factor: 2}}
    function: {name: work}
`

func TestValidWorkflowRoundTrips(t *testing.T) {
	c := dynamicClient(t, server.Config())
	created, err := c.Resource(workflows).Namespace("team-a").Create(ctx(t), object(t, validWorkflow), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	// Free-form fields (items, numeric parameter values) survive pruning.
	items, _, _ := unstructured.NestedSlice(created.Object, "spec", "templates")
	tasks, _, _ := unstructured.NestedSlice(items[0].(map[string]any), "dag", "tasks")
	withItems, _, _ := unstructured.NestedSlice(tasks[0].(map[string]any), "withItems")
	if len(withItems) != 2 {
		t.Errorf("withItems after round trip = %v", withItems)
	}
	params, _, _ := unstructured.NestedSlice(created.Object, "spec", "arguments", "parameters")
	if v := params[0].(map[string]any)["value"]; fmt.Sprint(v) != "3" {
		t.Errorf("parameter value after round trip = %#v", v)
	}
}

func TestSchemaRejectsInvalidWorkflows(t *testing.T) {
	c := dynamicClient(t, server.Config())
	cases := []struct {
		name, doc, want string
	}{
		{
			name: "unknown shutdown strategy",
			doc: `
apiVersion: zeroflow.dev/v1alpha1
kind: Workflow
metadata: {name: bad-shutdown}
spec: {entrypoint: main, shutdown: Pause, templates: [{name: main, function: {name: f}}]}`,
			want: `spec.shutdown: Unsupported value: "Pause"`,
		},
		{
			name: "template with two kinds",
			doc: `
apiVersion: zeroflow.dev/v1alpha1
kind: Workflow
metadata: {name: two-kinds}
spec: {entrypoint: main, templates: [{name: main, function: {name: f}, suspend: {}}]}`,
			want: "exactly one of dag, steps, function, container, script, http, resource or suspend must be set",
		},
		{
			name: "task with both template and templateRef",
			doc: `
apiVersion: zeroflow.dev/v1alpha1
kind: Workflow
metadata: {name: both-refs}
spec:
  entrypoint: main
  templates:
  - name: main
    dag: {tasks: [{name: A, template: x, templateRef: {name: lib, template: x}}]}`,
			want: "exactly one of template or templateRef must be set",
		},
		{
			name: "negative parallelism",
			doc: `
apiVersion: zeroflow.dev/v1alpha1
kind: Workflow
metadata: {name: neg}
spec: {entrypoint: main, parallelism: 0, templates: [{name: main, function: {name: f}}]}`,
			want: "spec.parallelism: Invalid value: 0: spec.parallelism in body should be greater than or equal to 1",
		},
		{
			name: "function name that is not a DNS label",
			doc: `
apiVersion: zeroflow.dev/v1alpha1
kind: Workflow
metadata: {name: bad-fn}
spec: {entrypoint: main, templates: [{name: main, function: {name: Not_A_Label}}]}`,
			want: "spec.templates[0].function.name",
		},
		{
			name: "missing spec",
			doc: `
apiVersion: zeroflow.dev/v1alpha1
kind: Workflow
metadata: {name: no-spec}`,
			want: "spec: Required value",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Resource(workflows).Namespace("default").Create(ctx(t), object(t, tc.doc), metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) {
				t.Fatalf("err = %v, want 422 Invalid", err)
			}
			if status, ok := err.(apierrors.APIStatus); !ok || status.Status().Code != 422 {
				t.Errorf("status code is not 422: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestStaleStatusUpdateConflicts(t *testing.T) {
	c := dynamicClient(t, server.Config()).Resource(workflows).Namespace("default")
	doc := strings.Replace(validWorkflow, "name: valid, namespace: team-a", "name: occ", 1)
	wf, err := c.Create(ctx(t), object(t, doc), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := wf.DeepCopy()
	_ = unstructured.SetNestedField(first.Object, "Running", "status", "phase")
	if _, err := c.UpdateStatus(ctx(t), first, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("first status update: %v", err)
	}
	stale := wf.DeepCopy()
	_ = unstructured.SetNestedField(stale.Object, "Failed", "status", "phase")
	_, err = c.UpdateStatus(ctx(t), stale, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("stale update: err = %v, want 409 Conflict", err)
	}
	got, err := c.Get(ctx(t), "occ", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if phase, _, _ := unstructured.NestedString(got.Object, "status", "phase"); phase != "Running" {
		t.Errorf("phase = %q after the rejected update, want Running", phase)
	}
	// The status subresource ignores spec changes, and the main resource ignores status.
	spec := got.DeepCopy()
	_ = unstructured.SetNestedField(spec.Object, "Stop", "spec", "shutdown")
	_ = unstructured.SetNestedField(spec.Object, "Succeeded", "status", "phase")
	updated, err := c.Update(ctx(t), spec, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if phase, _, _ := unstructured.NestedString(updated.Object, "status", "phase"); phase != "Running" {
		t.Errorf("an update of the main resource changed the status to %q", phase)
	}
}

func TestKubeconfigReachesTheServer(t *testing.T) {
	cfg, err := clientcmd.BuildConfigFromFlags("", server.KubeconfigPath())
	if err != nil {
		t.Fatalf("load kubeconfig: %v", err)
	}
	if _, err := dynamicClient(t, cfg).Resource(templates).Namespace("default").List(ctx(t), metav1.ListOptions{}); err != nil {
		t.Fatalf("list through the kubeconfig: %v", err)
	}
	info, err := os.Stat(server.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %v, want 0600: it holds the token", info.Mode().Perm())
	}
	// Without the client certificate the server answers 401: anonymous
	// requests are not authenticated at all.
	anon := rest.AnonymousClientConfig(cfg)
	_, err = dynamicClient(t, anon).Resource(templates).Namespace("default").List(ctx(t), metav1.ListOptions{})
	if !apierrors.IsUnauthorized(err) {
		t.Errorf("anonymous list: err = %v, want 401", err)
	}
}

func TestDataSurvivesRestart(t *testing.T) {
	crds, err := manifests.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s1, err := kubeapi.Start(ctx(t), kubeapi.Options{DataDir: dir, CRDs: crds})
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(validWorkflow, "name: valid, namespace: team-a", "name: durable", 1)
	if _, err := dynamicClient(t, s1.Config()).Resource(workflows).Namespace("default").Create(ctx(t), object(t, doc), metav1.CreateOptions{}); err != nil {
		s1.Stop()
		t.Fatal(err)
	}
	if err := s1.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("a given data dir must be kept: %v", err)
	}
	// A key that others could read is treated as leaked: the restart
	// replaces the whole set, and etcd's data stays readable with the new one.
	adminKey := filepath.Join(dir, "pki", "admin.key")
	before, err := os.ReadFile(adminKey)
	if err != nil {
		t.Fatal(err)
	}
	beforeCert, err := os.ReadFile(filepath.Join(dir, "pki", "admin.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(adminKey, 0o644); err != nil {
		t.Fatal(err)
	}
	s2, err := kubeapi.Start(ctx(t), kubeapi.Options{DataDir: dir, CRDs: crds})
	if err != nil {
		t.Fatalf("restart on the same data dir: %v", err)
	}
	defer s2.Stop()
	if _, err := dynamicClient(t, s2.Config()).Resource(workflows).Namespace("default").Get(ctx(t), "durable", metav1.GetOptions{}); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	after, err := os.ReadFile(adminKey)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) == string(before) {
		t.Error("a key readable by others was used again")
	}
	if info, err := os.Stat(adminKey); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("regenerated admin key: %v %v, want mode 0600", info.Mode(), err)
	}
	// The old admin credentials are no longer accepted: the CA is new too.
	old := s2.Config()
	old.CertData, old.KeyData = beforeCert, before
	if _, err := dynamicClient(t, old).Resource(workflows).Namespace("default").Get(ctx(t), "durable", metav1.GetOptions{}); !apierrors.IsUnauthorized(err) {
		t.Errorf("the replaced admin credentials: err = %v, want 401", err)
	}
}

// The schema cannot see a dependency cycle; the server stores such a
// workflow, and Go validation (lint and the controller) rejects it.
func TestGoValidationRejectsACycleTheSchemaAccepts(t *testing.T) {
	c := dynamicClient(t, server.Config()).Resource(workflows).Namespace("default")
	created, err := c.Create(ctx(t), object(t, `
apiVersion: zeroflow.dev/v1alpha1
kind: Workflow
metadata: {name: cyclic}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: A, template: work, depends: C}
      - {name: B, template: work, depends: A}
      - {name: C, template: work, depends: B}
  - name: work
    function: {name: work}
`), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("the schema should accept the cycle: %v", err)
	}
	var wf v1alpha1.Workflow
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(created.Object, &wf); err != nil {
		t.Fatal(err)
	}
	errs := v1alpha1.ValidateWorkflow(&wf)
	if len(errs) != 1 {
		t.Fatalf("errors = %v, want one", errs)
	}
	want := `spec.templates[0].dag.tasks: Invalid value: "A -> C -> B -> A": dependency cycle`
	if !strings.Contains(errs[0].Error(), want) {
		t.Errorf("error = %v\nwant it to contain %q", errs[0], want)
	}
}

// kubectl starts from discovery: /apis must list the CRD groups, and their
// resources (with short names) must be found.
func TestDiscoveryListsTheCRDGroups(t *testing.T) {
	dc, err := discovery.NewDiscoveryClientForConfig(server.Config())
	if err != nil {
		t.Fatal(err)
	}
	groups, resources, err := dc.ServerGroupsAndResources()
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var names []string
	for _, g := range groups {
		names = append(names, g.Name+"="+g.PreferredVersion.Version)
	}
	if got := strings.Join(names, ","); got != "apiextensions.k8s.io=v1,coordination.k8s.io=v1,zeroflow.dev=v1alpha1" {
		t.Errorf("groups = %s", got)
	}
	short := map[string]bool{}
	for _, list := range resources {
		for _, r := range list.APIResources {
			for _, s := range r.ShortNames {
				short[s] = true
			}
		}
	}
	for _, s := range []string{"wf", "wft", "wftmpl"} {
		if !short[s] {
			t.Errorf("short name %s not discovered", s)
		}
	}
}

// The API listens where the same data dir's last start did, so that a
// kubeconfig copied before keeps working; when that address is taken it
// takes another and says so; an explicit Addr that is taken is an error
// naming it.
func TestAddressIsStableAcrossRestarts(t *testing.T) {
	crds, err := manifests.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	start := func(addr string) (*kubeapi.Server, error) {
		return kubeapi.Start(ctx(t), kubeapi.Options{DataDir: dir, Addr: addr, CRDs: crds, UnsafeNoFsync: true})
	}
	s1, err := start("")
	if err != nil {
		t.Fatal(err)
	}
	first := s1.Config().Host
	if err := s1.Stop(); err != nil {
		t.Fatal(err)
	}
	s2, err := start("")
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.Config().Host; got != first {
		t.Errorf("after a restart the API is at %s, want %s as before", got, first)
	}
	// While s2 holds it, an explicit Addr on it is refused, naming it.
	taken := strings.TrimPrefix(first, "https://")
	if _, err := kubeapi.Start(ctx(t), kubeapi.Options{DataDir: t.TempDir(), Addr: taken, UnsafeNoFsync: true}); err == nil || !strings.Contains(err.Error(), taken) {
		t.Errorf("a taken Addr: %v, want an error naming %s", err, taken)
	}
	if err := s2.Stop(); err != nil {
		t.Fatal(err)
	}
	// Someone else took it: another port, recorded for the next start.
	l, err := net.Listen("tcp", taken)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s3, err := start("")
	if err != nil {
		t.Fatalf("start with the last address taken: %v", err)
	}
	defer s3.Stop()
	if got := s3.Config().Host; got == first {
		t.Errorf("the API is at %s, which another listener holds", got)
	}
	if _, err := dynamicClient(t, s3.Config()).Resource(workflows).Namespace("default").List(ctx(t), metav1.ListOptions{}); err != nil {
		t.Errorf("the API at its new address: %v", err)
	}
}
