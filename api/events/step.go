package events

import (
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// StepRun is the data of a dev.zeroflow.step.run event: one attempt of a
// leaf node, with its template resolved (every tag substituted, every input
// given its value).
type StepRun struct {
	Workflow  string `json:"workflow"`
	Namespace string `json:"namespace"`
	UID       string `json:"uid"`
	NodeID    string `json:"nodeID"`
	Attempt   int32  `json:"attempt"`
	// Template is the resolved leaf template.
	Template v1alpha1.Template `json:"template"`
	// Deadline, when set, is when the attempt times out.
	Deadline *time.Time `json:"deadline,omitempty"`
	// ServiceAccountName is the identity the step acts with: the
	// template's serviceAccountName, else the workflow's (Argo runs the
	// step's pod under it). "" is the function's own identity. The
	// resource function impersonates it where it may; other functions
	// only record it.
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// Refs are the values the template's tags name that were too large to
	// substitute (offloaded): by tag text ("inputs.parameters.payload",
	// "workflow.parameters.payload"), each tag is left as written in the
	// template, and the SDK substitutes the loaded value before the step
	// sees the template. An input parameter whose value is offloaded also
	// has its ValueRef set.
	Refs map[string]v1alpha1.ValueRef `json:"refs,omitempty"`
	// ArtifactRepository is the repository the workflow's
	// artifactRepositoryRef names, resolved by the controller; nil is the
	// function's own store ($ZEROFLOW_ARTIFACTS).
	ArtifactRepository *v1alpha1.ArtifactRepository `json:"artifactRepository,omitempty"`
	// HeartbeatSeconds, when above zero, is how often the step's runtime
	// sends a dev.zeroflow.step.heartbeat while the attempt runs. The
	// first is due one interval after the step starts, so a step shorter
	// than that sends none.
	HeartbeatSeconds int32 `json:"heartbeatSeconds,omitempty"`
	// LostAfterSeconds is how long the controller waits for a heartbeat
	// before it gives the attempt up as lost. A runtime whose heartbeats
	// have not reached the broker for that long stops the step itself:
	// the controller has given up on it, and a new attempt may be running.
	LostAfterSeconds int32 `json:"lostAfterSeconds,omitempty"`
}

// Parameters returns the resolved input parameters by name.
func (r StepRun) Parameters() map[string]string {
	out := make(map[string]string, len(r.Template.Inputs.Parameters))
	for _, p := range r.Template.Inputs.Parameters {
		out[p.Name] = p.ValueString()
	}
	return out
}

// StepHeartbeat is the data of a dev.zeroflow.step.heartbeat event. The
// event carries the step.run's routing extensions and step token, as a
// result does, and its id is the step.run's id, a slash and a sequence
// number.
type StepHeartbeat struct {
	// Runner names the copy of the attempt that sends it (random, one per
	// execution): the controller keeps the first it hears of and cancels
	// any other, so that at most one copy of an attempt runs.
	Runner string `json:"runner"`
	// StartedAt is when this copy started.
	StartedAt time.Time `json:"startedAt"`
}

// StepCancel is the data of a dev.zeroflow.step.cancel event. It carries
// the step.run's routing extensions and step token (the function stops only
// an attempt whose token matches).
type StepCancel struct {
	// RunID is the id of the step.run to stop.
	RunID string `json:"runID"`
	// Runner, when set, stops only that copy (a duplicate), else any.
	Runner string `json:"runner,omitempty"`
	// Reason says why, for the step's log.
	Reason string `json:"reason"`
}

// StepResult is the data of a dev.zeroflow.step.result event.
type StepResult struct {
	// Phase is Succeeded, Failed or Error.
	Phase   v1alpha1.NodePhase    `json:"phase"`
	Message string                `json:"message,omitempty"`
	Outputs *v1alpha1.NodeOutputs `json:"outputs,omitempty"`
	// StartedAt and FinishedAt are the function's own timings.
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	// LogTail is the end of what the step logged through the SDK, bounded.
	LogTail []string `json:"logTail,omitempty"`
	// LogKey is where the whole log is in the artifact store, when stored.
	LogKey string `json:"logKey,omitempty"`
}
