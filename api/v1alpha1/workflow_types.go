package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// Workflow is one run of a DAG or steps of functions. Its status holds the
// state of every node, so the controller keeps no state of its own.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=wf,categories=zeroflow
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.progress`
// +kubebuilder:printcolumn:name="Started",type=date,JSONPath=`.status.startedAt`
// +kubebuilder:printcolumn:name="Finished",type=date,JSONPath=`.status.finishedAt`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Workflow struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   WorkflowSpec   `json:"spec"`
	Status WorkflowStatus `json:"status,omitempty"`
}

// WorkflowList is a list of Workflows.
//
// +kubebuilder:object:root=true
type WorkflowList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Workflow `json:"items"`
}

// ShutdownStrategy stops a running workflow.
//
// +kubebuilder:validation:Enum=Stop;Terminate
type ShutdownStrategy string

const (
	// ShutdownStop fails running nodes, starts no new ones, and runs the exit handler.
	ShutdownStop ShutdownStrategy = "Stop"
	// ShutdownTerminate is Stop without the exit handler.
	ShutdownTerminate ShutdownStrategy = "Terminate"
)

// WorkflowSpec is the definition of a workflow. A WorkflowTemplate's spec has
// the same shape.
type WorkflowSpec struct {
	// Entrypoint is the name of the template that runs first.
	// +optional
	Entrypoint string `json:"entrypoint,omitempty"`

	// Arguments are the workflow's parameters, visible to every template as
	// {{workflow.parameters.<name>}}.
	// +optional
	Arguments Arguments `json:"arguments,omitempty"`

	// Templates are the steps, DAGs and functions this workflow can run.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=500
	Templates []Template `json:"templates,omitempty"`

	// WorkflowTemplateRef runs a WorkflowTemplate. Fields set here override
	// the template's; arguments are merged by name.
	// +optional
	WorkflowTemplateRef *WorkflowTemplateRef `json:"workflowTemplateRef,omitempty"`

	// OnExit is a template that runs after the entrypoint completes, with
	// {{workflow.status}} and {{workflow.failures}} set.
	// +optional
	OnExit string `json:"onExit,omitempty"`

	// Hooks are workflow lifecycle hooks. The key "exit" is the same as onExit;
	// any other key needs an expression and runs its template once the
	// expression is true.
	// +optional
	Hooks LifecycleHooks `json:"hooks,omitempty"`

	// Parallelism limits how many leaf nodes run at once in this workflow.
	// +optional
	// +kubebuilder:validation:Minimum=1
	Parallelism *int64 `json:"parallelism,omitempty"`

	// ActiveDeadlineSeconds fails the workflow this long after it started.
	// Running nodes fail; the exit handler still runs.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`

	// RetryStrategy applies to every template that has none of its own.
	// +optional
	RetryStrategy *RetryStrategy `json:"retryStrategy,omitempty"`

	// Shutdown stops the workflow: Stop runs the exit handler, Terminate does not.
	// +optional
	Shutdown ShutdownStrategy `json:"shutdown,omitempty"`

	// Suspend, while true, starts no new nodes. Running nodes finish.
	// +optional
	Suspend *bool `json:"suspend,omitempty"`

	// ArtifactRepositoryRef is the artifact repository the workflow's
	// artifacts and offloaded values go to; default the stack's own.
	// +optional
	ArtifactRepositoryRef *ArtifactRepositoryRef `json:"artifactRepositoryRef,omitempty"`

	// TTLStrategy is Argo's: how long to keep the workflow after it
	// completes. It is validated and merged from a WorkflowTemplate, but
	// not yet acted on: nothing deletes a completed workflow (delete it
	// with zeroflow delete --completed or --older).
	// +optional
	TTLStrategy *TTLStrategy `json:"ttlStrategy,omitempty"`

	// ServiceAccountName is the identity the workflow's steps act with, as
	// Argo's (which runs each step's pod under it). Steps are not pods
	// here: the controller carries it in each step.run (a template's own
	// serviceAccountName wins), and the resource function impersonates it
	// where it may (docs/workflows.md, Identities).
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
}

// WorkflowTemplateRef names a WorkflowTemplate in the workflow's namespace.
type WorkflowTemplateRef struct {
	// Name of the WorkflowTemplate.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// TTLStrategy says how long a completed workflow is to be kept: the first
// setting that matches the final phase applies. It is validated, but the
// controller does not delete workflows yet.
type TTLStrategy struct {
	// +optional
	// +kubebuilder:validation:Minimum=0
	SecondsAfterCompletion *int32 `json:"secondsAfterCompletion,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	SecondsAfterSuccess *int32 `json:"secondsAfterSuccess,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	SecondsAfterFailure *int32 `json:"secondsAfterFailure,omitempty"`
}

// WorkflowPhase is the phase of a whole workflow.
type WorkflowPhase string

// Workflow phases, as in Argo.
const (
	WorkflowUnknown   WorkflowPhase = ""
	WorkflowPending   WorkflowPhase = "Pending"
	WorkflowRunning   WorkflowPhase = "Running"
	WorkflowSucceeded WorkflowPhase = "Succeeded"
	WorkflowFailed    WorkflowPhase = "Failed"
	WorkflowError     WorkflowPhase = "Error"
)

// Completed reports whether the phase is final.
func (p WorkflowPhase) Completed() bool {
	return p == WorkflowSucceeded || p == WorkflowFailed || p == WorkflowError
}

// WorkflowStatus is the observed state of a run.
type WorkflowStatus struct {
	// Status holds observedGeneration and Knative-style conditions; the
	// Succeeded condition mirrors the phase.
	duckv1.Status `json:",inline"`

	// Phase of the workflow.
	// +optional
	Phase WorkflowPhase `json:"phase,omitempty"`

	// StartedAt is when the run started, to the second. Node times are
	// milliseconds after it.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// FinishedAt is when the run reached a final phase.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`

	// Message explains a failure.
	// +optional
	Message string `json:"message,omitempty"`

	// Progress is "done/total" over the leaf nodes created so far.
	// +optional
	Progress string `json:"progress,omitempty"`

	// Resets counts the retries of a finished run (`zeroflow retry`,
	// `argo retry`); it is part of the ids of the step events, so that a
	// node made again does not take the results of its first run.
	// +optional
	Resets int32 `json:"resets,omitempty"`

	// Nodes maps a node ID to its state. The ID is the node's path from the
	// entrypoint, e.g. "main.fanout(3)" or "main[1].report".
	//
	// The map is atomic for server-side field management, and the API server
	// does not validate it against a schema: only the controller writes it,
	// from Go types. Per-node field tracking more than doubled the object and
	// per-node schema validation took most of a write's time; see
	// docs/benchmarks.md.
	// +optional
	// +mapType=atomic
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Nodes map[string]NodeStatus `json:"nodes,omitempty"`

	// CompressedNodes holds Nodes, gzipped and base64-encoded, when they
	// are too large to store as they are (as Argo's status.compressedNodes):
	// Nodes is then empty. controller.Client expands it on every read, so
	// readers through it never see it (see CompressNodes).
	// +optional
	CompressedNodes string `json:"compressedNodes,omitempty"`

	// Outputs are the workflow's global outputs (parameters with a globalName).
	// +optional
	Outputs *Outputs `json:"outputs,omitempty"`

	// StoredWorkflowTemplateSpec is the WorkflowTemplate's spec as it was when
	// the run started, so that editing the template does not change a run.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +structType=atomic
	StoredWorkflowTemplateSpec *WorkflowSpec `json:"storedWorkflowTemplateSpec,omitempty"`

	// StoredTemplates are the templates that templateRef points at, keyed
	// "<workflowtemplate>/<template>", captured when the run started.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +mapType=atomic
	StoredTemplates map[string]Template `json:"storedTemplates,omitempty"`
}
