// Package v1alpha1 holds zeroflow's API: Workflow and WorkflowTemplate, with
// Argo Workflows' field names wherever the meaning is the same, so that an Argo
// user ports YAML by changing apiVersion. docs/argo-differences.md lists every
// place where the meaning differs.
//
// +groupName=zeroflow.dev
// +kubebuilder:object:generate=true
package v1alpha1
