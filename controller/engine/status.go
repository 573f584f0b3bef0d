package engine

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// workflowPhaseOf maps the entrypoint's phase to the workflow's: Skipped and
// Omitted count as Succeeded.
func workflowPhaseOf(p v1alpha1.NodePhase) v1alpha1.WorkflowPhase {
	switch p {
	case v1alpha1.NodeSucceeded, v1alpha1.NodeSkipped, v1alpha1.NodeOmitted:
		return v1alpha1.WorkflowSucceeded
	case v1alpha1.NodeFailed:
		return v1alpha1.WorkflowFailed
	case v1alpha1.NodeError:
		return v1alpha1.WorkflowError
	case v1alpha1.NodePending:
		return v1alpha1.WorkflowPending
	default:
		return v1alpha1.WorkflowRunning
	}
}

// completeWorkflow sets the final phase: the entrypoint's, unless it
// succeeded and the exit handler did not.
func (op *operation) completeWorkflow(root *v1alpha1.NodeStatus, exit *v1alpha1.NodeStatus) {
	phase := workflowPhaseOf(root.Phase)
	msg := root.Message
	if phase != v1alpha1.WorkflowSucceeded && op.shutdown != "" {
		msg = fmt.Sprintf("Stopped with strategy '%s'", op.shutdown)
	}
	if phase == v1alpha1.WorkflowSucceeded && exit != nil && exit.Phase.FailedOrError() {
		phase = workflowPhaseOf(exit.Phase)
		msg = exit.Message
	}
	op.status.Phase = phase
	op.status.Message = msg
	op.status.FinishedAt = &metav1.Time{Time: op.now}
	op.finished = &Finished{Phase: phase, Message: msg}
}

// finishStatus refreshes the derived fields: progress and the Succeeded
// condition.
func (op *operation) finishStatus() {
	total, done := 0, 0
	for _, n := range op.status.Nodes {
		if n.Type == v1alpha1.NodeTypeLeaf || n.Type == v1alpha1.NodeTypeSuspend {
			total++
			if n.Phase == v1alpha1.NodeSucceeded {
				done++
			}
		}
	}
	if total > 0 {
		op.status.Progress = fmt.Sprintf("%d/%d", done, total)
	}
	status, reason := corev1.ConditionUnknown, string(op.status.Phase)
	switch op.status.Phase {
	case v1alpha1.WorkflowSucceeded:
		status, reason = corev1.ConditionTrue, ""
	case v1alpha1.WorkflowFailed, v1alpha1.WorkflowError:
		status = corev1.ConditionFalse
	}
	op.setCondition(apis.Condition{Type: apis.ConditionSucceeded, Status: status, Reason: reason, Message: op.status.Message})
}

// setCondition sets a condition, stamping the engine's time when it changes.
func (op *operation) setCondition(c apis.Condition) {
	conds := op.status.Conditions
	for i := range conds {
		if conds[i].Type != c.Type {
			continue
		}
		if conds[i].Status == c.Status && conds[i].Reason == c.Reason && conds[i].Message == c.Message {
			return
		}
		c.LastTransitionTime = apis.VolatileTime{Inner: metav1.NewTime(op.now)}
		conds[i] = c
		return
	}
	c.LastTransitionTime = apis.VolatileTime{Inner: metav1.NewTime(op.now)}
	op.status.Conditions = append(conds, c)
}

// failure is one entry of workflow.failures.
type failure struct {
	DisplayName string `json:"displayName"`
	NodeID      string `json:"nodeID"`
	Message     string `json:"message"`
	Phase       string `json:"phase"`
	FinishedAt  string `json:"finishedAt"`
}

// failuresJSON is {{workflow.failures}}: every failed or errored node, in
// node ID order, as a JSON list (plain JSON, not Argo's quoted string).
func (op *operation) failuresJSON() string {
	var ids []string
	for id, n := range op.status.Nodes {
		if n.Phase.FailedOrError() {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	out := make([]failure, 0, len(ids))
	for _, id := range ids {
		n := op.status.Nodes[id]
		out = append(out, failure{
			DisplayName: DisplayName(id),
			NodeID:      id,
			Message:     n.Message,
			Phase:       string(n.Phase),
			FinishedAt:  op.at(n.Finished).Format(time.RFC3339),
		})
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// DisplayName is the last part of a node ID: "A(3)" of "main.A(3)", "[0]"
// of "main[0]".
func DisplayName(id string) string {
	last := id
	if i := strings.LastIndexByte(id, '.'); i >= 0 {
		last = id[i+1:]
	}
	if strings.HasSuffix(last, "]") {
		if i := strings.LastIndexByte(last, '['); i >= 0 {
			return last[i:]
		}
	}
	return last
}
