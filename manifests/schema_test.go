package manifests_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/internal/kubeapi"
	"github.com/zeroflow-dev/zeroflow/manifests"
)

// knativeCRDs are the CRD files of the Knative kinds zeroflow ships, in the
// knative modules as the Go module proxy delivers them.
var knativeCRDs = map[string][]string{
	"knative.dev/serving":  {"config/core/300-resources/service.yaml"},
	"knative.dev/eventing": {"config/core/resources/broker.yaml", "config/core/resources/trigger.yaml", "config/core/resources/sinkbindings.yaml", "config/core/resources/pingsource.yaml", "config/core/resources/apiserversource.yaml", "config/core/resources/eventpolicy.yaml"},
}

// TestObjectsPassTheirCRDSchemas installs Knative's own CRDs and
// zeroflow's into a real API server, then creates every custom object the
// install and the example build: each must pass its CRD's OpenAPI schema,
// as on a cluster. (Core kinds are not served in-process; knativecheck
// covers them.)
func TestObjectsPassTheirCRDSchemas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server")
	}
	var crds [][]byte
	for mod, files := range knativeCRDs {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod).Output()
		if err != nil {
			t.Fatalf("find module %s: %v", mod, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), f))
			if err != nil {
				t.Fatal(err)
			}
			crds = append(crds, b)
		}
	}
	own, err := manifests.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	crds = append(crds, own...)
	ctx := context.Background()
	s, err := kubeapi.Start(ctx, kubeapi.Options{CRDs: crds, UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	client, err := dynamic.NewForConfig(s.Config())
	if err != nil {
		t.Fatal(err)
	}
	resources := map[string]string{
		"Service": "services", "Broker": "brokers", "Trigger": "triggers", "SinkBinding": "sinkbindings",
		"PingSource": "pingsources", "ApiServerSource": "apiserversources", "EventPolicy": "eventpolicies",
		"EventSource": "eventsources", "Sensor": "sensors", "WorkflowTemplate": "workflowtemplates", "Workflow": "workflows", "CronWorkflow": "cronworkflows",
	}
	created, policies := 0, 0
	objs := append(build(t, "."), build(t, "overlays/dev-cluster")...)
	for _, dir := range exampleOverlays(t) {
		objs = append(objs, build(t, dir)...)
	}
	for _, o := range objs {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal(o.yaml, &u.Object); err != nil {
			t.Fatal(err)
		}
		gv, _ := schema.ParseGroupVersion(u.GetAPIVersion())
		if gv.Group == "" || gv.Group == "apps" || gv.Group == "batch" || strings.HasPrefix(gv.Group, "rbac.") || gv.Group == "networking.k8s.io" || o.kind == "CustomResourceDefinition" {
			continue // core kinds: not served in-process
		}
		res, ok := resources[o.kind]
		if !ok {
			t.Errorf("%s %s: no CRD installed for it", u.GetAPIVersion(), o.kind)
			continue
		}
		gvr := gv.WithResource(res)
		// The same object may come from two builds (the two installs).
		_ = client.Resource(gvr).Namespace(o.namespace).Delete(ctx, o.name, metav1.DeleteOptions{})
		if _, err := client.Resource(gvr).Namespace(o.namespace).Create(ctx, &u, metav1.CreateOptions{}); err != nil {
			t.Errorf("%s %s: the API server rejects it: %v", o.kind, o.name, err)
			continue
		}
		created++
		if o.kind == "EventPolicy" {
			policies++
		}
	}
	if created == 0 || policies == 0 {
		t.Fatalf("nothing created (%d objects, %d EventPolicies)", created, policies)
	}
	// The schemas can say no: a Service whose scaling annotation is fine
	// but whose container is not an object, a Trigger whose broker is not
	// a string, and an EventPolicy whose subject is a list.
	for _, bad := range []string{
		"apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: bad, namespace: zeroflow}\nspec: {template: {spec: {containers: [web]}}}\n",
		"apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: bad, namespace: zeroflow}\nspec: {broker: [default], subscriber: {uri: http://x}}\n",
		"apiVersion: eventing.knative.dev/v1alpha1\nkind: EventPolicy\nmetadata: {name: bad, namespace: zeroflow}\nspec: {to: [{ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}], from: [{sub: [system:serviceaccount:zeroflow:x]}]}\n",
	} {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(bad), &u.Object); err != nil {
			t.Fatal(err)
		}
		gv, _ := schema.ParseGroupVersion(u.GetAPIVersion())
		if _, err := client.Resource(gv.WithResource(resources[u.GetKind()])).Namespace("zeroflow").Create(ctx, &u, metav1.CreateOptions{}); err == nil {
			t.Errorf("the API server accepted an invalid %s", u.GetKind())
		}
	}
	t.Logf("%d objects passed their schemas", created)
}
