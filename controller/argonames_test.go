package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

// A CronWorkflow's run carries Argo's names beside zeroflow's (Argo's
// cron-workflow label and scheduled-time annotation), and a tag written for
// Argo, {{workflow.labels.workflows.argoproj.io/cron-workflow}}, resolves.
func TestCronRunCarriesArgosNames(t *testing.T) {
	at := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	cw := &v1alpha1.CronWorkflow{
		ObjectMeta: metav1.ObjectMeta{Name: "peak-20261203", Namespace: "argo-events"},
		Spec: v1alpha1.CronWorkflowSpec{
			WorkflowMetadata: &v1alpha1.WorkflowMetadata{Labels: map[string]string{"team": "infra"}},
			WorkflowSpec: v1alpha1.WorkflowSpec{
				Entrypoint: "main",
				Templates: []v1alpha1.Template{{
					Name: "main",
					Inputs: v1alpha1.Inputs{Parameters: []v1alpha1.Parameter{
						{Name: "cron", Default: v1alpha1.ParseAnyString("{{workflow.labels.workflows.argoproj.io/cron-workflow}}")},
						{Name: "at", Default: v1alpha1.ParseAnyString("{{workflow.annotations.workflows.argoproj.io/scheduled-time}}")},
					}},
					Function: &v1alpha1.FunctionTemplate{Name: "notify"},
				}},
			},
		},
	}
	wf := cronRun(cw, CronRunName(cw.Name, at), at)
	for k, want := range map[string]string{
		LabelCronWorkflow: "peak-20261203", "workflows.argoproj.io/cron-workflow": "peak-20261203", "team": "infra",
	} {
		if wf.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, wf.Labels[k], want)
		}
	}
	for _, k := range []string{AnnotationScheduledTime, "workflows.argoproj.io/scheduled-time"} {
		if wf.Annotations[k] != "2026-12-03T08:00:00Z" {
			t.Errorf("annotation %s = %q", k, wf.Annotations[k])
		}
	}
	out, err := engine.New().Advance(engine.RunOf(wf), engine.Input{Kind: engine.Submit}, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Dispatch) != 1 {
		t.Fatalf("dispatch %v; status %+v", out.Dispatch, out.Status)
	}
	got := map[string]string{}
	for _, p := range out.Dispatch[0].Template.Inputs.Parameters {
		got[p.Name] = p.ValueString()
	}
	if got["cron"] != "peak-20261203" || got["at"] != "2026-12-03T08:00:00Z" {
		t.Errorf("inputs %v", got)
	}
}
