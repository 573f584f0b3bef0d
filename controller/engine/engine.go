// Package engine is zeroflow's workflow engine: a pure function from a
// workflow, one input and the time to the workflow's new status and the
// actions the runtime must take. It does no I/O and reads no clock; node IDs
// are paths, so the same inputs always give the same result.
//
// Advance re-walks the workflow's templates from the entrypoint on every
// input, as Argo's operator does, creating the nodes that are ready and
// assessing the ones that finished. Every transition happens during that walk,
// so a step result is applied where the node's template is known.
package engine

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

// Run is the workflow being advanced.
type Run struct {
	Name              string
	Namespace         string
	UID               string
	CreationTimestamp time.Time
	Labels            map[string]string
	Annotations       map[string]string

	// Spec is the workflow's spec. With workflowTemplateRef set, the
	// template's spec must be in Status.StoredWorkflowTemplateSpec.
	Spec   v1alpha1.WorkflowSpec
	Status v1alpha1.WorkflowStatus
}

// RunOf returns the Run of a Workflow object.
func RunOf(wf *v1alpha1.Workflow) Run {
	return Run{
		Name:              wf.Name,
		Namespace:         wf.Namespace,
		UID:               string(wf.UID),
		CreationTimestamp: wf.CreationTimestamp.Time,
		Labels:            wf.Labels,
		Annotations:       wf.Annotations,
		Spec:              wf.Spec,
		Status:            wf.Status,
	}
}

// InputKind is what happened.
type InputKind string

// The inputs the engine reacts to.
const (
	// Submit starts a workflow that has not started. It is idempotent.
	Submit InputKind = "Submit"
	// StepResult reports the outcome of one attempt of a leaf node.
	StepResult InputKind = "StepResult"
	// Tick is the passing of time: retries, timeouts, deadlines and
	// suspend durations come due.
	Tick InputKind = "Tick"
	// Resume ends suspend nodes and clears spec.suspend.
	Resume InputKind = "Resume"
	// Stop applies a shutdown strategy, as if spec.shutdown were set.
	Stop InputKind = "Stop"
	// Heartbeat says that a leaf attempt is still running.
	Heartbeat InputKind = "Heartbeat"
)

// Input is one event for Advance.
type Input struct {
	Kind InputKind

	// Result is set for StepResult.
	Result *Result

	// Nodes selects the suspend nodes a Resume or Stop applies to; empty
	// means all. A Stop with Nodes fails only those suspend nodes, as
	// `argo stop --node-field-selector` does.
	Nodes []string
	// Outputs are the values of supplied output parameters, for Resume.
	Outputs map[string]string
	// Message is recorded on the nodes a Resume or Stop ends.
	Message string

	// Strategy is set for Stop.
	Strategy v1alpha1.ShutdownStrategy

	// Invalid, on a Submit, is why the run cannot start (a template it
	// names does not exist, its spec does not validate); the workflow
	// ends in Error with this message, as Argo's does.
	Invalid string

	// Heartbeat is set for Heartbeat.
	Heartbeat *HeartbeatOf

	// Liveness, on every input, is when a running attempt counts as
	// lost (zero fields: never).
	Liveness Liveness

	// Redispatch, when set, sends again the step.run of every running
	// attempt not heard from yet (no heartbeat, no result): the input is
	// a redelivery, whose first advance may have written the status that
	// records those dispatches and stopped (a killed controller) before
	// sending them. The attempts are the same, and so are their step.run
	// ids: a broker that keeps ids, and the SDK, take a copy that reached
	// them once.
	Redispatch bool
}

// Liveness is how the engine tells a running attempt from a lost one. An
// attempt is alive while it heartbeats; its age says nothing, so a step may
// run for as long as its template's timeout allows.
type Liveness struct {
	// LostAfter: an attempt that has heartbeated and then sent none for
	// this long is lost.
	LostAfter time.Duration
	// StartTimeout: an attempt that has sent neither a heartbeat nor a
	// result this long after its dispatch is lost (its step.run never
	// reached a function, or the function died before its first
	// heartbeat). It covers the broker's queue and cold starts.
	StartTimeout time.Duration
	// HeartbeatEvery is how often runtimes heartbeat. A heartbeat less
	// than half of it after the recorded one changes nothing, so that an
	// attempt costs at most one status write per interval.
	HeartbeatEvery time.Duration
}

// HeartbeatOf is one heartbeat of a leaf attempt.
type HeartbeatOf struct {
	NodeID  string
	Attempt int32
	// Runner names the copy that sent it.
	Runner string
	// Function is the function that runs it (the event's zffunction).
	Function string
}

// Result is the outcome of one attempt of a leaf node, as a step function
// replies it.
type Result struct {
	NodeID  string
	Attempt int32
	// Phase is Succeeded, Failed or Error.
	Phase   v1alpha1.NodePhase
	Message string
	Outputs *v1alpha1.NodeOutputs
}

// Outcome is what Advance returns.
type Outcome struct {
	// Status is the workflow's new status. Persist it before acting on
	// Dispatch: a node is recorded Running before its step.run is sent.
	Status v1alpha1.WorkflowStatus
	// Dispatch lists the leaf attempts to send, in walk order.
	Dispatch []Dispatch
	// Cancel lists running attempts whose results no longer matter
	// (timeout, stop, terminate, deadline, lost, a stale or duplicate
	// copy that heartbeats).
	Cancel []Cancel
	// WakeAt, when not zero, is when Advance must be called with a Tick.
	WakeAt time.Time
	// Finished is set on the advance that completed the workflow.
	Finished *Finished
	// SpecPatch is the spec change the input implies (Stop and Resume),
	// to persist along with the status.
	SpecPatch *SpecPatch
	// Ignored explains why a StepResult changed nothing (a duplicate, a
	// stale attempt, an unknown node); empty otherwise.
	Ignored string
}

// Dispatch is one attempt of a leaf node to send to its function.
type Dispatch struct {
	NodeID  string
	Attempt int32
	// Function is the routing key (zffunction): the user's function name,
	// or one of the built-in functions exec, http and resource.
	Function string
	// Template is the leaf template with every tag substituted and its
	// input parameters' values filled in.
	Template v1alpha1.Template
	// Refs are the offloaded values whose tags are left as written in
	// Template, by tag text (events.StepRun.Refs).
	Refs map[string]v1alpha1.ValueRef
	// Deadline is when the attempt times out (zero: no timeout).
	Deadline time.Time
}

// Cancel is a running attempt to abandon: the controller tells its
// function to stop it.
type Cancel struct {
	NodeID  string
	Attempt int32
	// Function is the function that runs it.
	Function string
	// Runner, when set, is the one copy to stop (a duplicate); empty is
	// every copy.
	Runner string
	Reason string
}

// Finished describes a completed workflow.
type Finished struct {
	Phase   v1alpha1.WorkflowPhase
	Message string
}

// SpecPatch is a change to the workflow's spec.
type SpecPatch struct {
	Shutdown v1alpha1.ShutdownStrategy
	// Suspend, when set, is the new value of spec.suspend.
	Suspend *bool
}

// Built-in functions that run the leaf templates other than function.
const (
	FunctionExec     = "exec"
	FunctionHTTP     = "http"
	FunctionResource = "resource"
)

// Engine advances workflows. It keeps compiled expressions between
// advances, so a controller uses one Engine for all of them; it is safe for
// concurrent use and holds no workflow state.
type Engine struct {
	mu      sync.Mutex
	depends map[string]*expression.Depends
}

// maxCachedExpressions bounds the cache; past it the cache starts over.
const maxCachedExpressions = 50000

// New returns an Engine.
func New() *Engine {
	return &Engine{depends: map[string]*expression.Depends{}}
}

// parseDepends returns the compiled depends expression for source.
func (e *Engine) parseDepends(source string, legacy []string) (*expression.Depends, error) {
	key := source
	if source == "" {
		key = "\x00" + strings.Join(legacy, "\x00")
	}
	e.mu.Lock()
	d, ok := e.depends[key]
	e.mu.Unlock()
	if ok {
		return d, nil
	}
	var err error
	if source != "" {
		d, err = expression.ParseDepends(source)
	} else {
		d, err = expression.DependenciesAsDepends(legacy)
	}
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if len(e.depends) >= maxCachedExpressions {
		clear(e.depends)
	}
	e.depends[key] = d
	e.mu.Unlock()
	return d, nil
}

// Advance applies one input to the workflow at time now.
func (e *Engine) Advance(run Run, in Input, now time.Time) (Outcome, error) {
	switch in.Kind {
	case Submit, Tick, Resume:
	case StepResult:
		if in.Result == nil {
			return Outcome{}, fmt.Errorf("advance %s: a StepResult input needs a result", run.Name)
		}
		switch in.Result.Phase {
		case v1alpha1.NodeSucceeded, v1alpha1.NodeFailed, v1alpha1.NodeError:
		default:
			return Outcome{}, fmt.Errorf("advance %s: result for node %s has phase %q, want Succeeded, Failed or Error", run.Name, in.Result.NodeID, in.Result.Phase)
		}
	case Stop:
		if in.Strategy != v1alpha1.ShutdownStop && in.Strategy != v1alpha1.ShutdownTerminate && len(in.Nodes) == 0 {
			return Outcome{}, fmt.Errorf("advance %s: stop strategy %q is neither Stop nor Terminate", run.Name, in.Strategy)
		}
	case Heartbeat:
		if in.Heartbeat == nil || in.Heartbeat.NodeID == "" {
			return Outcome{}, fmt.Errorf("advance %s: a Heartbeat input needs a heartbeat with a node", run.Name)
		}
	default:
		return Outcome{}, fmt.Errorf("advance %s: unknown input kind %q", run.Name, in.Kind)
	}
	op := newOperation(e, run, in, now)
	op.advance()
	return op.outcome(), nil
}
