package controller

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

// Requests that `zeroflow resume` and `zeroflow retry` write on a workflow.
// The controller acts on them (it is the only writer of the status) and
// removes them; a request that cannot apply is removed with a log line.
//
// Every request the controller acts on comes through the Kubernetes API,
// never as an event: resume and retry are these annotations, suspend, stop
// and terminate are spec.suspend and spec.shutdown (what `zeroflow stop`
// and a sensor's workflow trigger patch). Whoever may update the Workflow
// may ask, so RBAC on workflows is the proof, and the controller needs no
// token for them. The events it takes are a submit (checked against its
// sender's namespace), a step.result (checked against its dispatch's
// token) and ticks, which only make it look at the time again.
const (
	// AnnotationResume asks to resume suspend nodes; its value is a
	// ResumeRequest in JSON.
	AnnotationResume = "zeroflow.dev/resume"
	// AnnotationRetry asks to run a Failed or Error workflow's failed
	// nodes again; its value is a RetryRequest in JSON.
	AnnotationRetry = "zeroflow.dev/retry"
)

// ResumeRequest is the value of AnnotationResume.
type ResumeRequest struct {
	// Nodes are the suspend nodes to resume; empty is all.
	Nodes []string `json:"nodes,omitempty"`
	// Outputs supply the suspend nodes' output parameters.
	Outputs map[string]string `json:"outputs,omitempty"`
	Message string            `json:"message,omitempty"`
}

// RetryRequest is the value of AnnotationRetry.
type RetryRequest struct {
	// Node, when set, retries only that node (and what depends on it);
	// otherwise every failed node runs again.
	Node string `json:"node,omitempty"`
}

// controlRequest reads the request annotations of wf: the input it turns
// into (nil for none), whether the status must be reset for a retry first,
// and the annotations to remove once applied.
func controlRequest(wf *v1alpha1.Workflow) (in *engine.Input, retry *RetryRequest, remove []string, err error) {
	if v, ok := wf.Annotations[AnnotationRetry]; ok {
		remove = append(remove, AnnotationRetry)
		r := &RetryRequest{}
		if v != "" {
			if err := json.Unmarshal([]byte(v), r); err != nil {
				return nil, nil, remove, fmt.Errorf("annotation %s: %w", AnnotationRetry, err)
			}
		}
		return &engine.Input{Kind: engine.Tick}, r, remove, nil
	}
	if v, ok := wf.Annotations[AnnotationResume]; ok {
		remove = append(remove, AnnotationResume)
		r := ResumeRequest{}
		if v != "" {
			if err := json.Unmarshal([]byte(v), &r); err != nil {
				return nil, nil, remove, fmt.Errorf("annotation %s: %w", AnnotationResume, err)
			}
		}
		return &engine.Input{Kind: engine.Resume, Nodes: r.Nodes, Outputs: r.Outputs, Message: r.Message}, nil, remove, nil
	}
	return nil, nil, nil, nil
}

// resetForRetry makes a Failed or Error workflow Running again without the
// nodes that failed, so that the engine's next walk creates them anew, as
// `argo retry` does. Nodes that did not run because of the failure
// (Omitted) and exit handlers go too; what succeeded stays. With node set,
// only that node, its descendants and its ancestors are reset.
func resetForRetry(st *v1alpha1.WorkflowStatus, node string) error {
	if err := CheckRetry(st, node); err != nil {
		return err
	}
	nodes := make(map[string]v1alpha1.NodeStatus, len(st.Nodes))
	for id, n := range st.Nodes {
		drop := false
		switch {
		case n.Phase == v1alpha1.NodeOmitted || strings.Contains(id, ".onExit"):
			drop = true
		case node != "":
			subtree := id == node || strings.HasPrefix(id, node+".") || strings.HasPrefix(id, node+"[") || strings.HasPrefix(id, node+"(")
			ancestor := strings.HasPrefix(node, id) && n.Phase.FailedOrError()
			drop = subtree || ancestor
		default:
			drop = n.Phase.FailedOrError()
		}
		if !drop {
			nodes[id] = n
		}
	}
	st.Nodes = nodes
	st.Resets++
	st.Phase = v1alpha1.WorkflowRunning
	st.Message = ""
	st.FinishedAt = nil
	conds := st.Conditions[:0]
	for _, c := range st.Conditions {
		if c.Type != "Succeeded" {
			conds = append(conds, c)
		}
	}
	st.Conditions = conds
	return nil
}

// CheckRetry says why a workflow with this status cannot be retried (at
// node, when set), or nil when it can. `zeroflow retry` asks before it
// requests; the controller asks again when it applies the request.
func CheckRetry(st *v1alpha1.WorkflowStatus, node string) error {
	if st.Phase != v1alpha1.WorkflowFailed && st.Phase != v1alpha1.WorkflowError {
		return fmt.Errorf("only a Failed or Error workflow can be retried; this one is %s", phaseName(st.Phase))
	}
	if node != "" {
		if _, ok := st.Nodes[node]; !ok {
			return fmt.Errorf("the workflow has no node %q", node)
		}
	}
	return nil
}

func phaseName(p v1alpha1.WorkflowPhase) string {
	if p == "" {
		return "not started"
	}
	return string(p)
}
