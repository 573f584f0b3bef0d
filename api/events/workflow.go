package events

import (
	"strconv"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// WorkflowSubmit is the data of a dev.zeroflow.workflow.submit event: the
// Workflow to create, named already. The event's id is derived from the
// same inputs as the name, so a submit delivered twice creates one run.
type WorkflowSubmit struct {
	Workflow *v1alpha1.Workflow `json:"workflow"`
}

// TypeWorkflowTick asks the controller to look at workflows now: the one
// named in zfworkflow/zfnamespace, or every unfinished one. A PingSource
// sends it on a cluster, where the controller may have scaled to zero
// while a retry backoff or a suspend was running down.
const TypeWorkflowTick = "dev.zeroflow.workflow.tick"

// TypeKnativePing is the type of the events a Knative PingSource sends,
// which cannot be changed: the controller takes one sent straight to it as
// a tick of every unfinished workflow (manifests/controller's resync).
const TypeKnativePing = "dev.knative.sources.ping"

// WorkflowFinished is the data of a dev.zeroflow.workflow.finished event:
// the run record of a completed workflow.
type WorkflowFinished struct {
	Workflow   string                 `json:"workflow"`
	Namespace  string                 `json:"namespace"`
	UID        string                 `json:"uid"`
	Labels     map[string]string      `json:"labels,omitempty"`
	Phase      v1alpha1.WorkflowPhase `json:"phase"`
	Message    string                 `json:"message,omitempty"`
	StartedAt  time.Time              `json:"startedAt"`
	FinishedAt time.Time              `json:"finishedAt"`
	// Arguments are the workflow's input parameters.
	Arguments map[string]string `json:"arguments,omitempty"`
	// Outputs are the workflow's global output parameters.
	Outputs map[string]string `json:"outputs,omitempty"`
	// Nodes are every node's outcome, in ID order.
	Nodes []RunNode `json:"nodes"`
}

// RunNode is one node of a run record.
type RunNode struct {
	ID         string                `json:"id"`
	Type       v1alpha1.NodeType     `json:"type,omitempty"`
	Phase      v1alpha1.NodePhase    `json:"phase"`
	StartedAt  time.Time             `json:"startedAt"`
	FinishedAt *time.Time            `json:"finishedAt,omitempty"`
	Retries    int32                 `json:"retries,omitempty"`
	Message    string                `json:"message,omitempty"`
	Outputs    *v1alpha1.NodeOutputs `json:"outputs,omitempty"`
	// LogKey is where the node's last attempt's log is in the artifact
	// store, for leaf nodes.
	LogKey string `json:"logKey,omitempty"`
}

// StepLogKey is where the SDK stores the log of one attempt of a step, and
// where `zeroflow logs` finds it.
func StepLogKey(namespace, workflow, node string, attempt int32) string {
	return "logs/" + namespace + "/" + workflow + "/" + node + "/" + strconv.Itoa(int(attempt)) + ".log"
}

// ArtifactKey is where a step attempt's output artifact goes in the
// workflow's artifact repository: deterministic per workflow, node and
// attempt, so that a retry writes its own keys and never reads what an
// earlier attempt half wrote. An archived (tar+gzip) artifact ends in
// .tgz, as Argo's do.
func ArtifactKey(namespace, workflow, node string, attempt int32, name string, archived bool) string {
	key := "artifacts/" + namespace + "/" + workflow + "/" + node + "/" + strconv.Itoa(int(attempt)) + "/" + name
	if archived {
		key += ".tgz"
	}
	return key
}

// RunRecordKey is where the archive stores a workflow's run record.
func RunRecordKey(namespace, workflow string) string {
	return "runs/" + namespace + "/" + workflow + ".json"
}
