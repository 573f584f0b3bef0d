package render

import (
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// LabelCronWorkflow marks a CronWorkflow's PingSources and Trigger.
const LabelCronWorkflow = "zeroflow.dev/cronworkflow"

// CronWorkflow renders a CronWorkflow: a PingSource per schedule firing
// into the broker, each event carrying the CronWorkflow's name in
// zfcronworkflow, and the Trigger that routes those events to the
// controller, which starts the run.
func CronWorkflow(cw *v1alpha1.CronWorkflow, broker string) Objects {
	labels := map[string]string{LabelCronWorkflow: cw.Name, LabelComponent: "cron"}
	var out Objects
	names := cronPingSourceNames(cw)
	for i, schedule := range cw.Spec.AllSchedules() {
		name := names[i]
		out.PingSources = append(out.PingSources, sourcesv1.PingSource{
			TypeMeta:   metav1.TypeMeta{APIVersion: sourcesv1.SchemeGroupVersion.String(), Kind: "PingSource"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: cw.Namespace, Labels: withPartOf(labels)},
			Spec: sourcesv1.PingSourceSpec{
				Schedule:    schedule,
				Timezone:    cw.Spec.Timezone,
				ContentType: "application/json",
				Data:        `{"cronWorkflow":"` + cw.Name + `"}`,
				SourceSpec: duckv1.SourceSpec{
					Sink:                brokerDestination(broker),
					CloudEventOverrides: &duckv1.CloudEventOverrides{Extensions: map[string]string{events.ExtCronWorkflow: cw.Name}},
				},
			},
		})
	}
	out.Triggers = []eventingv1.Trigger{trigger(cw.Namespace, CronWorkflowTriggerName(cw.Name), broker, labels,
		eventingv1.TriggerFilterAttributes{"type": events.TypeKnativePing, events.ExtCronWorkflow: cw.Name},
		coreServiceDestination(ControllerService))}
	if len(out.PingSources) > 0 {
		out.EventPolicies = []eventingv1alpha1.EventPolicy{CronWorkflowEventPolicy(cw, broker)}
	}
	out.sort()
	return out
}

// CronWorkflowTriggerName is the Trigger that routes the pings of the
// CronWorkflow name to the controller: the controller takes its subject
// (TriggerSubject) as a caller.
func CronWorkflowTriggerName(name string) string { return childName(name, "cron") }

// cronPingSourceNames are the names of a CronWorkflow's PingSources, one
// per schedule.
func cronPingSourceNames(cw *v1alpha1.CronWorkflow) []string {
	schedules := cw.Spec.AllSchedules()
	if len(schedules) == 1 {
		return []string{childName(cw.Name, "cron")}
	}
	names := make([]string, len(schedules))
	for i := range schedules {
		names[i] = childName(cw.Name, "cron", strconv.Itoa(i))
	}
	return names
}
