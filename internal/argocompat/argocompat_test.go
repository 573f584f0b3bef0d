package argocompat

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestConvert(t *testing.T) {
	cases := []struct {
		name     string
		obj      map[string]any
		changed  bool
		want     string
		errorHas string
	}{
		{name: "Argo Workflow", obj: map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow"}, changed: true, want: "zeroflow.dev/v1alpha1"},
		{name: "Argo WorkflowTemplate", obj: map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate"}, changed: true, want: "zeroflow.dev/v1alpha1"},
		{name: "Argo CronWorkflow", obj: map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "CronWorkflow"}, changed: true, want: "zeroflow.dev/v1alpha1"},
		{name: "Argo Events Sensor", obj: map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Sensor"}, changed: true, want: "zeroflow.dev/v1alpha1"},
		{name: "zeroflow's own", obj: map[string]any{"apiVersion": "zeroflow.dev/v1alpha1", "kind": "Workflow"}, want: "zeroflow.dev/v1alpha1"},
		{name: "another group", obj: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}, want: "v1"},
		{name: "an Argo kind zeroflow lacks", obj: map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "ClusterWorkflowTemplate"},
			want: "argoproj.io/v1alpha1", errorHas: "kind ClusterWorkflowTemplate of argoproj.io/v1alpha1 has no zeroflow counterpart"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			changed, err := Convert(c.obj)
			if c.errorHas != "" {
				if err == nil || !strings.Contains(err.Error(), c.errorHas) {
					t.Fatalf("err = %v, want %q", err, c.errorHas)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if changed != c.changed || c.obj["apiVersion"] != c.want {
				t.Errorf("changed %v, apiVersion %v; want %v, %s", changed, c.obj["apiVersion"], c.changed, c.want)
			}
		})
	}
}

func TestRESTMapping(t *testing.T) {
	zeroflowOnly := meta.NewDefaultRESTMapper(nil)
	zeroflowOnly.Add(schema.GroupVersionKind{Group: "zeroflow.dev", Version: "v1alpha1", Kind: "CronWorkflow"}, meta.RESTScopeNamespace)
	withArgo := meta.NewDefaultRESTMapper(nil)
	withArgo.Add(schema.GroupVersionKind{Group: "zeroflow.dev", Version: "v1alpha1", Kind: "CronWorkflow"}, meta.RESTScopeNamespace)
	withArgo.Add(schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "CronWorkflow"}, meta.RESTScopeNamespace)
	obj := func(apiVersion, kind string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	}
	cases := []struct {
		name      string
		mapper    meta.RESTMapper
		obj       *unstructured.Unstructured
		group     string
		converted bool
		errorHas  string
	}{
		{name: "Argo not installed: an Argo CronWorkflow becomes zeroflow's", mapper: zeroflowOnly,
			obj: obj("argoproj.io/v1alpha1", "CronWorkflow"), group: "zeroflow.dev", converted: true},
		{name: "Argo installed: its CronWorkflow stays Argo's", mapper: withArgo,
			obj: obj("argoproj.io/v1alpha1", "CronWorkflow"), group: "argoproj.io"},
		{name: "zeroflow's own", mapper: zeroflowOnly, obj: obj("zeroflow.dev/v1alpha1", "CronWorkflow"), group: "zeroflow.dev"},
		{name: "an Argo kind zeroflow lacks names the reason", mapper: zeroflowOnly,
			obj: obj("argoproj.io/v1alpha1", "ClusterWorkflowTemplate"), errorHas: "has no zeroflow counterpart"},
		{name: "a zeroflow kind the server does not serve keeps the server's error", mapper: zeroflowOnly,
			obj: obj("argoproj.io/v1alpha1", "Sensor"), errorHas: "as zeroflow.dev/v1alpha1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, converted, err := RESTMapping(c.mapper, c.obj)
			if c.errorHas != "" {
				if err == nil || !strings.Contains(err.Error(), c.errorHas) || !meta.IsNoMatchError(err) {
					t.Fatalf("err = %v, want a no-match error with %q", err, c.errorHas)
				}
				if c.obj.GetAPIVersion() != "argoproj.io/v1alpha1" {
					t.Errorf("apiVersion changed to %s on an error", c.obj.GetAPIVersion())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.GroupVersionKind.Group != c.group || c.obj.GroupVersionKind().Group != c.group || converted != c.converted {
				t.Errorf("mapped to %v, object %v, converted %v; want group %s, converted %v", m.GroupVersionKind, c.obj.GroupVersionKind(), converted, c.group, c.converted)
			}
		})
	}
}
