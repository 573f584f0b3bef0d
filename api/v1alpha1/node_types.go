package v1alpha1

// NodePhase is the phase of one node.
type NodePhase string

// Node phases, as in Argo. Leaf nodes are created Running (dispatched) and
// never Pending.
const (
	NodePending   NodePhase = "Pending"
	NodeRunning   NodePhase = "Running"
	NodeSucceeded NodePhase = "Succeeded"
	NodeSkipped   NodePhase = "Skipped"
	NodeFailed    NodePhase = "Failed"
	NodeError     NodePhase = "Error"
	NodeOmitted   NodePhase = "Omitted"
)

// Fulfilled reports whether the node will not change again: completed,
// skipped or omitted.
func (p NodePhase) Fulfilled() bool {
	return p.Completed() || p == NodeSkipped || p == NodeOmitted
}

// Completed reports whether the node ran to an end.
func (p NodePhase) Completed() bool {
	return p == NodeSucceeded || p == NodeFailed || p == NodeError
}

// FailedOrError reports whether the node ended unsuccessfully.
func (p NodePhase) FailedOrError() bool { return p == NodeFailed || p == NodeError }

// NodeType says what a node is. Leaf nodes, run by a function, have no type
// recorded: they are most of the nodes, and the status must stay small.
type NodeType string

// Node types other than leaves.
const (
	NodeTypeLeaf      NodeType = ""
	NodeTypeDAG       NodeType = "DAG"
	NodeTypeSteps     NodeType = "Steps"
	NodeTypeStepGroup NodeType = "StepGroup"
	NodeTypeTaskGroup NodeType = "TaskGroup"
	NodeTypeSuspend   NodeType = "Suspend"
	NodeTypeSkipped   NodeType = "Skipped"
)

// NodeStatus is the compact record of one node. Times are milliseconds after
// the workflow's status.startedAt, which keeps a 10,000-node status far below
// etcd's request limit.
type NodeStatus struct {
	Phase NodePhase `json:"phase"`
	// +optional
	Type NodeType `json:"type,omitempty"`
	// Started is when the node was created (for a leaf: when its first
	// attempt was dispatched), in ms after status.startedAt.
	// +optional
	Started int64 `json:"started,omitempty"`
	// AttemptStarted is when the current attempt was dispatched, in ms
	// after status.startedAt; set only from the second attempt on.
	// +optional
	AttemptStarted int64 `json:"attemptStarted,omitempty"`
	// Finished is when the node was fulfilled, in ms after status.startedAt.
	// +optional
	Finished int64 `json:"finished,omitempty"`
	// Retries is the 0-based index of the current attempt.
	// +optional
	Retries int32 `json:"retries,omitempty"`
	// RetryAt is when the next attempt is due, in ms after
	// status.startedAt; set only while waiting for a backoff.
	// +optional
	RetryAt int64 `json:"retryAt,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	Outputs *NodeOutputs `json:"outputs,omitempty"`
	// TokenHash binds the current attempt to its dispatch: the unpadded
	// base64url of the first 16 bytes of the SHA-256 of the attempt's
	// step token (zfsteptoken). A step.result is accepted only with the
	// token that hashes to it. Set while a leaf runs, cleared when it is
	// fulfilled, so that a finished status carries none.
	// +optional
	TokenHash string `json:"tokenHash,omitempty"`
	// Heartbeat is when the current attempt last said it was alive (a
	// dev.zeroflow.step.heartbeat), in ms after status.startedAt; set
	// only once one came, cleared with the attempt.
	// +optional
	Heartbeat int64 `json:"heartbeat,omitempty"`
	// Runner names the copy of the current attempt that heartbeats: the
	// first one heard of; any other copy is cancelled.
	// +optional
	Runner string `json:"runner,omitempty"`
}

// NodeOutputs are what a node produced. Large values belong in the artifact
// store; the step contract bounds what is inlined here.
type NodeOutputs struct {
	// +optional
	Parameters map[string]string `json:"parameters,omitempty"`
	// Result is the function's result (stdout for exec templates).
	// +optional
	Result *string `json:"result,omitempty"`
	// +optional
	ExitCode *int32 `json:"exitCode,omitempty"`
	// Artifacts maps an artifact name to its key in the workflow's
	// artifact repository, or to its s3:// location when the template
	// names one.
	// +optional
	Artifacts map[string]string `json:"artifacts,omitempty"`
	// ParameterRefs holds the output parameters too large to inline
	// (offloaded to the artifact store); a name is in Parameters or here.
	// +optional
	ParameterRefs map[string]ValueRef `json:"parameterRefs,omitempty"`
	// ResultRef, set instead of Result, is an offloaded result.
	// +optional
	ResultRef *ValueRef `json:"resultRef,omitempty"`
}
