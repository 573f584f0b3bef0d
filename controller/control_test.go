package controller_test

import (
	"strings"
	"testing"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
)

func TestCheckRetry(t *testing.T) {
	nodes := map[string]v1alpha1.NodeStatus{"main": {Phase: v1alpha1.NodeFailed}, "main.a": {Phase: v1alpha1.NodeFailed}}
	for _, c := range []struct {
		phase v1alpha1.WorkflowPhase
		node  string
		want  string
	}{
		{v1alpha1.WorkflowFailed, "", ""},
		{v1alpha1.WorkflowError, "main.a", ""},
		{v1alpha1.WorkflowSucceeded, "", "only a Failed or Error workflow can be retried; this one is Succeeded"},
		{v1alpha1.WorkflowRunning, "", "only a Failed or Error workflow can be retried; this one is Running"},
		{v1alpha1.WorkflowUnknown, "", "only a Failed or Error workflow can be retried; this one is not started"},
		{v1alpha1.WorkflowFailed, "main.b", `the workflow has no node "main.b"`},
	} {
		err := controller.CheckRetry(&v1alpha1.WorkflowStatus{Phase: c.phase, Nodes: nodes}, c.node)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %q: %v", c.phase, c.node, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s %q: %v, want %q", c.phase, c.node, err, c.want)
		}
	}
}
