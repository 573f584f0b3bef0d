package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of every zeroflow kind.
const GroupName = "zeroflow.dev"

// SchemeGroupVersion is the group and version of this package's kinds.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

// Resource returns a GroupResource of this API group.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

// AddToScheme registers this package's kinds.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion,
		&Workflow{}, &WorkflowList{},
		&WorkflowTemplate{}, &WorkflowTemplateList{},
		&CronWorkflow{}, &CronWorkflowList{},
		&EventSource{}, &EventSourceList{},
		&Sensor{}, &SensorList{},
	)
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	return nil
}
