package render

import (
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// LabelCronWorkflow marks a CronWorkflow's PingSources: the controller
// finds them by it (to delete those of a schedule no longer in the spec).
const LabelCronWorkflow = "zeroflow.dev/cronworkflow"

// CronPingSourcePrefix starts the name of every CronWorkflow's PingSource,
// so that their OIDC identities (Knative names a PingSource's
// ServiceAccount after it) share a prefix: one EventPolicy, known at
// install time, admits the PingSources of CronWorkflows made at any time
// (CronEventPolicy).
const CronPingSourcePrefix = "zeroflow-cron-"

// CronWorkflow renders a CronWorkflow: a PingSource per schedule firing
// into the broker, each event carrying the CronWorkflow's name in
// zfcronworkflow. The runtime's Trigger (ControllerTriggers) routes the
// firings to the controller, which starts the runs; the runtime's
// CronEventPolicy lets them in. The controller makes the same objects for
// a CronWorkflow created through the API (controller.ClusterSchedules),
// so applying this output as well changes nothing. A suspended
// CronWorkflow keeps its PingSources: the controller skips their firings
// (the API's documented behaviour), so no run starts.
func CronWorkflow(cw *v1alpha1.CronWorkflow, broker string) Objects {
	labels := map[string]string{LabelCronWorkflow: cw.Name, LabelComponent: "cron"}
	var out Objects
	names := CronPingSourceNames(cw)
	for i, schedule := range cw.Spec.AllSchedules() {
		out.PingSources = append(out.PingSources, sourcesv1.PingSource{
			TypeMeta:   metav1.TypeMeta{APIVersion: sourcesv1.SchemeGroupVersion.String(), Kind: "PingSource"},
			ObjectMeta: metav1.ObjectMeta{Name: names[i], Namespace: cw.Namespace, Labels: withPartOf(labels)},
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
	out.sort()
	return out
}

// CronPingSourceNames are the names of a CronWorkflow's PingSources, one
// per schedule, in the order of its schedules: zeroflow-cron-NAME for one,
// zeroflow-cron-NAME-I for several. The controller takes a firing only
// from one of these (its source names the PingSource), so that a
// CronWorkflow's PingSource fires no other.
func CronPingSourceNames(cw *v1alpha1.CronWorkflow) []string {
	schedules := cw.Spec.AllSchedules()
	if len(schedules) == 1 {
		return []string{childName(CronPingSourcePrefix + cw.Name)}
	}
	names := make([]string, len(schedules))
	for i := range schedules {
		names[i] = childName(CronPingSourcePrefix+cw.Name, strconv.Itoa(i))
	}
	return names
}
