package engine

import (
	"fmt"
	"maps"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// maxDepth bounds template nesting (recursive templates end on a `when`).
const maxDepth = 100

// operation is the state of one Advance.
type operation struct {
	engine *Engine
	run    Run
	spec   *v1alpha1.WorkflowSpec
	in     Input
	now    time.Time
	status *v1alpha1.WorkflowStatus
	// base is status.startedAt; node times are milliseconds after it.
	base time.Time

	result         *Result
	resultFound    bool
	heartbeatFound bool
	ignored        string

	shutdown     v1alpha1.ShutdownStrategy
	suspended    bool
	deadline     time.Time
	pastDeadline bool

	// runningLeaves counts leaf attempts in flight, for spec.parallelism.
	runningLeaves int64

	dispatch  []Dispatch
	cancel    []Cancel
	wake      time.Time
	specPatch *SpecPatch
	finished  *Finished

	globals map[string]string
	// globalRefs are the workflow.* variables whose values are offloaded.
	globalRefs map[string]v1alpha1.ValueRef
	topoOrder  map[*v1alpha1.DAGTemplate][]int
}

func newOperation(e *Engine, run Run, in Input, now time.Time) *operation {
	status := copyStatus(run.Status)
	op := &operation{
		engine:    e,
		run:       run,
		in:        in,
		now:       now.UTC().Round(0),
		status:    status,
		result:    in.Result,
		shutdown:  run.Spec.Shutdown,
		suspended: run.Spec.Suspend != nil && *run.Spec.Suspend,
		topoOrder: map[*v1alpha1.DAGTemplate][]int{},
	}
	if status.StartedAt != nil {
		op.base = status.StartedAt.Time
	}
	return op
}

// advance is the whole of one Advance.
func (op *operation) advance() {
	if op.status.Phase.Completed() {
		if op.result != nil {
			op.ignored = fmt.Sprintf("workflow already %s", op.status.Phase)
		}
		return
	}
	if op.status.Phase == v1alpha1.WorkflowUnknown || op.status.Phase == v1alpha1.WorkflowPending {
		if op.in.Kind != Submit {
			if op.result != nil {
				op.ignored = "workflow has not started"
			}
			return
		}
		start := op.now.Truncate(time.Second)
		op.status.StartedAt = &metav1.Time{Time: start}
		op.base = start
		op.status.Phase = v1alpha1.WorkflowRunning
		if op.in.Invalid != "" {
			op.failWorkflow(v1alpha1.WorkflowError, op.in.Invalid)
			return
		}
	}
	if op.status.Nodes == nil {
		op.status.Nodes = map[string]v1alpha1.NodeStatus{}
	}

	spec, err := effectiveSpec(&op.run.Spec, op.status.StoredWorkflowTemplateSpec)
	if err != nil {
		op.failWorkflow(v1alpha1.WorkflowError, err.Error())
		return
	}
	op.spec = spec
	op.applyControlInput()
	if op.spec.ActiveDeadlineSeconds != nil {
		op.deadline = op.base.Add(time.Duration(*op.spec.ActiveDeadlineSeconds) * time.Second)
		op.pastDeadline = !op.now.Before(op.deadline)
	}
	op.globalRefs = map[string]v1alpha1.ValueRef{}
	if op.globals, err = op.buildGlobals(); err != nil {
		op.failWorkflow(v1alpha1.WorkflowError, err.Error())
		return
	}
	if op.spec.Parallelism != nil {
		op.countRunningLeaves()
	}

	entry, err := op.lookupTemplate("", op.spec.Entrypoint)
	if err != nil {
		op.failWorkflow(v1alpha1.WorkflowError, fmt.Sprintf("entrypoint: %v", err))
		return
	}
	rootID := op.spec.Entrypoint
	root := op.execute(frame{
		id:     rootID,
		tmpl:   entry,
		inputs: memoInputs(func() (resolvedInputs, error) { return op.bindInputs(entry, callArgs{Arguments: op.spec.Arguments}) }),
	})
	if root == nil {
		// Shut down or past the deadline before the entrypoint could start.
		if b, why := op.blocked(frame{}); b {
			root = op.createFinal(rootID, v1alpha1.NodeFailed, why)
		}
	}
	op.workflowHooks(rootID, root)
	if root == nil || !root.Phase.Fulfilled() {
		if !op.pastDeadline && !op.deadline.IsZero() {
			op.wakeAt(op.deadline)
		}
		op.finishStatus()
		return
	}

	exitDone, exitNode := op.exitHandler(rootID, root)
	if !exitDone || !op.workflowHooksSettled(rootID) {
		op.finishStatus()
		return
	}
	op.completeWorkflow(root, exitNode)
	op.finishStatus()
}

// applyControlInput applies the spec side of Stop and Resume; the suspend
// nodes they select are ended during the walk, where their templates are known.
func (op *operation) applyControlInput() {
	switch op.in.Kind {
	case Stop:
		if len(op.in.Nodes) > 0 {
			// Like `argo stop --node-field-selector`: only the selected
			// suspend nodes fail; the workflow goes on.
			return
		}
		op.shutdown = op.in.Strategy
		op.specPatch = &SpecPatch{Shutdown: op.in.Strategy}
	case Resume:
		if len(op.in.Nodes) == 0 && op.suspended {
			op.suspended = false
			no := false
			op.specPatch = &SpecPatch{Suspend: &no}
		}
	}
}

func (op *operation) countRunningLeaves() {
	for _, n := range op.status.Nodes {
		if n.Type == v1alpha1.NodeTypeLeaf && n.Phase == v1alpha1.NodeRunning && n.RetryAt == 0 {
			op.runningLeaves++
		}
	}
}

// node returns the node with id.
func (op *operation) node(id string) (v1alpha1.NodeStatus, bool) {
	n, ok := op.status.Nodes[id]
	return n, ok
}

func (op *operation) setNode(id string, n v1alpha1.NodeStatus) { op.status.Nodes[id] = n }

// ms converts a time to the offset stored in node records.
func (op *operation) ms(t time.Time) int64 { return t.Sub(op.base).Milliseconds() }

// at converts a stored offset back to a time.
func (op *operation) at(ms int64) time.Time { return op.base.Add(time.Duration(ms) * time.Millisecond) }

func (op *operation) wakeAt(t time.Time) {
	if op.wake.IsZero() || t.Before(op.wake) {
		op.wake = t
	}
}

// newNode returns a fresh record created now.
func (op *operation) newNode(phase v1alpha1.NodePhase, typ v1alpha1.NodeType, message string) v1alpha1.NodeStatus {
	n := v1alpha1.NodeStatus{Phase: phase, Type: typ, Started: op.ms(op.now), Message: message}
	if phase.Fulfilled() {
		n.Finished = n.Started
	}
	return n
}

// fulfil moves a node to a final phase now. A fulfilled node never changes.
func (op *operation) fulfil(id string, n v1alpha1.NodeStatus, phase v1alpha1.NodePhase, message string) v1alpha1.NodeStatus {
	if n.Phase.Fulfilled() {
		return n
	}
	n.Phase = phase
	n.Message = message
	n.RetryAt = 0
	n.Heartbeat, n.Runner = 0, ""
	n.Finished = op.ms(op.now)
	op.setNode(id, n)
	return n
}

func (op *operation) failWorkflow(phase v1alpha1.WorkflowPhase, message string) {
	op.status.Phase = phase
	op.status.Message = message
	op.status.FinishedAt = &metav1.Time{Time: op.now}
	op.finished = &Finished{Phase: phase, Message: message}
	op.finishStatus()
}

func (op *operation) outcome() Outcome {
	out := Outcome{
		Status:    *op.status,
		Dispatch:  op.dispatch,
		Cancel:    op.cancel,
		Finished:  op.finished,
		SpecPatch: op.specPatch,
		Ignored:   op.ignored,
	}
	if op.finished == nil {
		out.WakeAt = op.wake
	}
	if op.result != nil && !op.resultFound && out.Ignored == "" {
		out.Ignored = fmt.Sprintf("no running attempt %d of node %q", op.result.Attempt, op.result.NodeID)
	}
	if hb := op.in.Heartbeat; hb != nil && !op.heartbeatFound {
		reason := fmt.Sprintf("the workflow has no running node %q", hb.NodeID)
		if n, ok := op.status.Nodes[hb.NodeID]; ok && n.Phase.Fulfilled() {
			reason = fmt.Sprintf("node %q is %s already", hb.NodeID, n.Phase)
		}
		if op.status.Phase.Completed() {
			reason = "the workflow is " + string(op.status.Phase)
		}
		out.Cancel = append(out.Cancel, Cancel{NodeID: hb.NodeID, Attempt: hb.Attempt, Function: hb.Function, Runner: hb.Runner, Reason: reason})
	}
	return out
}

// copyStatus copies what an operation may change. Node records are
// replaced, never changed in place, so the node map is cloned shallowly: a
// deep copy of a 10,000-node status costs more than the rest of an advance.
func copyStatus(s v1alpha1.WorkflowStatus) *v1alpha1.WorkflowStatus {
	out := s
	out.Nodes = maps.Clone(s.Nodes)
	out.Outputs = s.Outputs.DeepCopy()
	out.Conditions = slices.Clone(s.Conditions)
	return &out
}
