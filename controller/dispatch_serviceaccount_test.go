package controller

import (
	"testing"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

// A step.run carries the identity Argo would run the step's pod as: the
// template's serviceAccountName, else the workflow's, else its
// WorkflowTemplate's.
func TestStepRunCarriesTheServiceAccount(t *testing.T) {
	for _, tc := range []struct {
		name              string
		template, wf, wft string
		want              string
	}{
		{"template", "tpl", "wf", "wft", "tpl"},
		{"workflow", "", "wf", "wft", "wf"},
		{"workflow template", "", "", "wft", "wft"},
		{"none", "", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wf := &v1alpha1.Workflow{Spec: v1alpha1.WorkflowSpec{ServiceAccountName: tc.wf}}
			wf.Name, wf.Namespace, wf.UID = "w", "argo-events", "u"
			if tc.wft != "" {
				wf.Status.StoredWorkflowTemplateSpec = &v1alpha1.WorkflowSpec{ServiceAccountName: tc.wft}
			}
			c := &Controller{cfg: Config{TokenKey: []byte("key")}}
			ev, err := c.stepRunEvent(wf, engine.Dispatch{NodeID: "n", Attempt: 1, Function: engine.FunctionResource, Template: v1alpha1.Template{Name: "t", ServiceAccountName: tc.template}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var run events.StepRun
			if err := ev.DataAs(&run); err != nil {
				t.Fatal(err)
			}
			if run.ServiceAccountName != tc.want {
				t.Errorf("serviceAccountName %q, want %q", run.ServiceAccountName, tc.want)
			}
		})
	}
}
