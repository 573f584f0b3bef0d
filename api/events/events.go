// Package events is zeroflow's CloudEvent contract: the event types, the
// extension attributes that route them, and the data they carry. Functions,
// sensors and the controller talk only through these events, over a Knative
// Broker (or the embedded one).
//
// Extension names are lowercase alphanumerics, as CloudEvents requires and
// Knative Trigger filters match.
package events

import (
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// Event types. A webhook or other source keeps its Argo type (the source
// kind, e.g. "webhook").
const (
	// TypeDependency is a matched dependency, from a filter to its sensor.
	TypeDependency = "dev.zeroflow.dependency"
	// TypeWorkflowSubmit asks the controller to start a workflow.
	TypeWorkflowSubmit = "dev.zeroflow.workflow.submit"
	// TypeStepRun asks a function to run one attempt of a workflow step.
	TypeStepRun = "dev.zeroflow.step.run"
	// TypeStepResult is a function's reply to a step.run.
	TypeStepResult = "dev.zeroflow.step.result"
	// TypeStepHeartbeat says that an attempt is still running: the step's
	// runtime sends one every StepRun.HeartbeatSeconds while it works,
	// to the broker, and the controller fails an attempt whose heartbeats
	// stop (see StepHeartbeat).
	TypeStepHeartbeat = "dev.zeroflow.step.heartbeat"
	// TypeStepCancel tells a function to stop an attempt: the workflow was
	// stopped, terminated or deleted, the attempt timed out or was given
	// up as lost, or another copy of it is the one that counts.
	TypeStepCancel = "dev.zeroflow.step.cancel"
	// TypeWorkflowFinished carries the run record of a completed workflow.
	TypeWorkflowFinished = "dev.zeroflow.workflow.finished"
)

// Extension attributes.
const (
	// ExtSensor names the sensor a dependency event is for.
	ExtSensor = "zfsensor"
	// ExtDependency names the dependency it satisfies.
	ExtDependency = "zfdependency"
	// ExtWorkflow names the workflow a step or run event belongs to.
	ExtWorkflow = "zfworkflow"
	// ExtNode is the node ID of a step event.
	ExtNode = "zfnode"
	// ExtAttempt is the 0-based attempt of a step event.
	ExtAttempt = "zfattempt"
	// ExtFunction routes a step.run to the function that runs it.
	ExtFunction = "zffunction"
	// ExtNamespace is the namespace of the sensor or workflow.
	ExtNamespace = "zfnamespace"
	// ExtEventSource names the EventSource an event came in through, and
	// ExtEvent the event of that EventSource. Sensor dependencies route on
	// them, so that an incoming CloudEvent, which keeps its own source
	// and subject, is matched like the events a source makes.
	ExtEventSource = "zfeventsource"
	ExtEvent       = "zfevent"
	// ExtCronWorkflow names the CronWorkflow a PingSource fires (set by
	// the PingSource's ceOverrides).
	ExtCronWorkflow = "zfcronworkflow"
	// ExtStepToken carries the proof of one dispatch: a step.run has it,
	// and its step.result must echo it, or the controller refuses the
	// result. It is unguessable and the same for every send of the same
	// attempt; whoever sees a step.run may answer it, so it is never
	// logged or stored (the controller keeps only a hash).
	ExtStepToken = "zfsteptoken"
	// ExtDataRef, ExtDataSize and ExtDataDigest say that the event's data
	// was too large to carry (above the offload threshold) and is in the
	// artifact store at that key, with that size and "sha256:<hex>"
	// digest; the event itself has no data. The SDK resolves it before a
	// handler sees the event. Reserved like every zf* extension, so no
	// outside sender can point a function at a stored object.
	ExtDataRef    = "zfdataref"
	ExtDataSize   = "zfdatasize"
	ExtDataDigest = "zfdatadigest"
)

// Extension returns a CloudEvent extension in its canonical string form
// ("" when it is unset).
func Extension(ev event.Event, name string) string {
	v, ok := ev.Extensions()[name]
	if !ok {
		return ""
	}
	str, err := types.ToString(v)
	if err != nil {
		return ""
	}
	return str
}
