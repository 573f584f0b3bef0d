package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// CronWorkflow runs a Workflow on a schedule, with Argo's fields. On a
// cluster a Knative PingSource per schedule fires it (zeroflow render makes
// them); zeroflow dev runs the same PingSources locally. The controller
// submits each run and keeps the CronWorkflow's status.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cwf;cronwf,categories=zeroflow
// +kubebuilder:printcolumn:name="Schedules",type=string,JSONPath=`.spec.schedules`
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Last",type=date,JSONPath=`.status.lastScheduledTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type CronWorkflow struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   CronWorkflowSpec   `json:"spec"`
	Status CronWorkflowStatus `json:"status,omitempty"`
}

// CronWorkflowList is a list of CronWorkflows.
//
// +kubebuilder:object:root=true
type CronWorkflowList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CronWorkflow `json:"items"`
}

// ConcurrencyPolicy says what a firing does while an earlier run of the
// same CronWorkflow is still going.
//
// +kubebuilder:validation:Enum=Allow;Forbid;Replace
type ConcurrencyPolicy string

// The concurrency policies (Argo's, from Kubernetes CronJobs).
const (
	// ConcurrencyAllow starts the new run alongside (the default).
	ConcurrencyAllow ConcurrencyPolicy = "Allow"
	// ConcurrencyForbid skips the new run.
	ConcurrencyForbid ConcurrencyPolicy = "Forbid"
	// ConcurrencyReplace terminates the running ones, then starts it.
	ConcurrencyReplace ConcurrencyPolicy = "Replace"
)

// CronWorkflowSpec is a schedule and the workflow it runs.
type CronWorkflowSpec struct {
	// WorkflowSpec is the spec of each run.
	WorkflowSpec WorkflowSpec `json:"workflowSpec"`

	// Schedules are cron schedules in Knative PingSource's syntax: five
	// fields, six with seconds first, or a descriptor such as @hourly (not
	// @every, which PingSources reject).
	// +optional
	Schedules []string `json:"schedules,omitempty"`

	// Schedule is a single schedule (Argo's older field); it adds to
	// Schedules.
	// +optional
	Schedule string `json:"schedule,omitempty"`

	// Timezone the schedules are in (an IANA name such as
	// "Europe/Berlin"); default UTC.
	// +optional
	Timezone string `json:"timezone,omitempty"`

	// ConcurrencyPolicy is Allow (default), Forbid or Replace.
	// +optional
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`

	// Suspend stops new runs; the PingSources keep firing and are ignored.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// StartingDeadlineSeconds skips a firing that reaches the controller
	// later than this after its scheduled time (a backlog after an outage).
	// +optional
	// +kubebuilder:validation:Minimum=0
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`

	// SuccessfulJobsHistoryLimit keeps this many Succeeded runs (default 3).
	// +optional
	// +kubebuilder:validation:Minimum=0
	SuccessfulJobsHistoryLimit *int32 `json:"successfulJobsHistoryLimit,omitempty"`

	// FailedJobsHistoryLimit keeps this many Failed or Error runs (default 1).
	// +optional
	// +kubebuilder:validation:Minimum=0
	FailedJobsHistoryLimit *int32 `json:"failedJobsHistoryLimit,omitempty"`

	// WorkflowMetadata are labels and annotations for each run.
	// +optional
	WorkflowMetadata *WorkflowMetadata `json:"workflowMetadata,omitempty"`
}

// WorkflowMetadata are the labels and annotations a CronWorkflow gives its
// runs.
type WorkflowMetadata struct {
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// AllSchedules are Schedules plus Schedule.
func (s *CronWorkflowSpec) AllSchedules() []string {
	out := append([]string(nil), s.Schedules...)
	if s.Schedule != "" {
		out = append(out, s.Schedule)
	}
	return out
}

// CronWorkflowStatus is the CronWorkflow's runs as the controller keeps
// them: a run is Active from its start until it finishes, when it is
// counted as Succeeded or Failed.
type CronWorkflowStatus struct {
	duckv1.Status `json:",inline"`

	// Active are the runs started and not finished.
	// +optional
	Active []string `json:"active,omitempty"`

	// LastScheduledTime is when the last run was scheduled to start.
	// +optional
	LastScheduledTime *metav1.Time `json:"lastScheduledTime,omitempty"`

	// Succeeded and Failed count the finished runs.
	// +optional
	Succeeded int64 `json:"succeeded,omitempty"`
	// +optional
	Failed int64 `json:"failed,omitempty"`

	// Skipped counts firings not run (suspended, Forbid, too late).
	// +optional
	Skipped int64 `json:"skipped,omitempty"`
}
