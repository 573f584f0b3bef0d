package render

import (
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
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
	schedules := cw.Spec.AllSchedules()
	for i, schedule := range schedules {
		name := childName(cw.Name, "cron")
		if len(schedules) > 1 {
			name = childName(cw.Name, "cron", strconv.Itoa(i))
		}
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
	out.Triggers = []eventingv1.Trigger{trigger(cw.Namespace, childName(cw.Name, "cron"), broker, labels,
		eventingv1.TriggerFilterAttributes{"type": events.TypeKnativePing, events.ExtCronWorkflow: cw.Name},
		coreServiceDestination(ControllerService))}
	out.sort()
	return out
}
