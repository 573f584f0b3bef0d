package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WorkflowTemplate is a reusable workflow definition. Workflows run it with
// spec.workflowTemplateRef, and DAG tasks or steps call its templates with
// templateRef.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=wftmpl;wft,categories=zeroflow
// +kubebuilder:printcolumn:name="Entrypoint",type=string,JSONPath=`.spec.entrypoint`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type WorkflowTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec WorkflowSpec `json:"spec"`
}

// WorkflowTemplateList is a list of WorkflowTemplates.
//
// +kubebuilder:object:root=true
type WorkflowTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WorkflowTemplate `json:"items"`
}
