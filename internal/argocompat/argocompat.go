// Package argocompat holds Argo's names that zeroflow honours beside its
// own: the argoproj.io/v1alpha1 group of objects written for Argo, and the
// workflows.argoproj.io/* labels and annotations Argo users select and
// reference. zeroflow's field names are Argo's already, so an Argo object of
// a kind zeroflow serves ports by changing its apiVersion alone.
package argocompat

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// APIVersion is the group and version of Argo Workflows' and Argo Events'
// kinds.
const APIVersion = "argoproj.io/v1alpha1"

// Argo's labels and annotations on runs, set beside zeroflow's own so that
// label selectors and {{workflow.labels.workflows.argoproj.io/…}} tags
// written for Argo keep working.
const (
	// LabelCronWorkflow names the CronWorkflow that started a run.
	LabelCronWorkflow = "workflows.argoproj.io/cron-workflow"
	// AnnotationScheduledTime is when a CronWorkflow's run was scheduled
	// (RFC 3339).
	AnnotationScheduledTime = "workflows.argoproj.io/scheduled-time"
	// LabelWorkflowTemplate names the WorkflowTemplate a run was submitted
	// from.
	LabelWorkflowTemplate = "workflows.argoproj.io/workflow-template"
	// LabelClusterWorkflowTemplate is Argo's label for runs of a
	// ClusterWorkflowTemplate. zeroflow has no such kind; the name is
	// here so that it is not mistaken for one zeroflow forgot.
	LabelClusterWorkflowTemplate = "workflows.argoproj.io/cluster-workflow-template"
)

// Serves reports whether zeroflow serves an Argo kind under the same name
// and fields: Argo Workflows' and Argo Events' (both argoproj.io/v1alpha1).
func Serves(kind string) bool {
	switch kind {
	case "Workflow", "WorkflowTemplate", "CronWorkflow", "EventSource", "Sensor":
		return true
	}
	return false
}

// Convert gives an object decoded from JSON or YAML (an unstructured
// object's map) zeroflow's apiVersion when it is an Argo object of a kind
// zeroflow serves, and reports whether it did. An Argo object of another
// kind (ClusterWorkflowTemplate, WorkflowEventBinding, EventBus, …) is an
// error that says so, rather than the API server's "no matches for kind".
// Objects of other groups are left alone.
func Convert(obj map[string]any) (bool, error) {
	if obj["apiVersion"] != APIVersion {
		return false, nil
	}
	kind, _ := obj["kind"].(string)
	if !Serves(kind) {
		return false, fmt.Errorf("kind %s of %s has no zeroflow counterpart (zeroflow serves %s as %s)",
			kind, APIVersion, "Workflow, WorkflowTemplate, CronWorkflow, EventSource and Sensor", v1alpha1.SchemeGroupVersion)
	}
	obj["apiVersion"] = v1alpha1.SchemeGroupVersion.String()
	return true, nil
}

// RESTMapping finds the API resource of obj. When the API server does not
// serve an Argo kind (Argo is not installed) and zeroflow serves it, obj is
// given zeroflow's apiVersion and mapped to zeroflow's kind; converted says
// so, for the caller to log. Where Argo is installed, its kinds stay Argo's:
// the object goes where its author sent it.
func RESTMapping(m meta.RESTMapper, obj *unstructured.Unstructured) (mapping *meta.RESTMapping, converted bool, err error) {
	gvk := obj.GroupVersionKind()
	mapping, err = m.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err == nil || !meta.IsNoMatchError(err) || obj.GetAPIVersion() != APIVersion {
		return mapping, false, err
	}
	if !Serves(obj.GetKind()) {
		_, why := Convert(map[string]any{"apiVersion": APIVersion, "kind": obj.GetKind()})
		return nil, false, fmt.Errorf("%w; %v", err, why)
	}
	zf := v1alpha1.SchemeGroupVersion.WithKind(obj.GetKind())
	mapping, zfErr := m.RESTMapping(zf.GroupKind(), zf.Version)
	if zfErr != nil {
		return nil, false, fmt.Errorf("%w; as %s: %v", err, zf.GroupVersion(), zfErr)
	}
	obj.SetAPIVersion(zf.GroupVersion().String())
	return mapping, true, nil
}
