package cli

import "testing"

// Argo's `argo submit --from workflowtemplate/NAME` labels the run
// workflows.argoproj.io/workflow-template=NAME; zeroflow's submit sets that
// and its own label.
func TestSubmitFromTemplateLabelsTheRun(t *testing.T) {
	wf := fromTemplate("release")
	if wf.Labels["workflows.argoproj.io/workflow-template"] != "release" || wf.Labels[LabelWorkflowTemplate] != "release" {
		t.Errorf("labels %v", wf.Labels)
	}
	if wf.GenerateName != "release-" || wf.Spec.WorkflowTemplateRef == nil || wf.Spec.WorkflowTemplateRef.Name != "release" {
		t.Errorf("workflow %+v", wf)
	}
}
