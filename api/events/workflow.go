package events

import "github.com/zeroflow-dev/zeroflow/api/v1alpha1"

// WorkflowSubmit is the data of a dev.zeroflow.workflow.submit event: the
// Workflow to create, named already. The event's id is derived from the
// same inputs as the name, so a submit delivered twice creates one run.
type WorkflowSubmit struct {
	Workflow *v1alpha1.Workflow `json:"workflow"`
}
