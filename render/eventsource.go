package render

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// EventSourceName is the name of the Knative Service that serves an
// EventSource's webhooks.
func EventSourceName(es *v1alpha1.EventSource) string { return childName(es.Name, "eventsource") }

// EventSource renders an EventSource: one Knative Service serves all its
// webhooks on $PORT (on a cluster the Service's URL replaces the ports
// Argo's webhooks listen on), as the EventSource's own ServiceAccount,
// with its spec in a ConfigMap and the broker as its sink; its calendar
// and resource sources; and the EventPolicies of all of them.
func EventSource(es *v1alpha1.EventSource, opts Options) (Objects, error) {
	out := Calendar(es)
	out.Add(ResourceSources(es))
	out.EventPolicies = EventSourceEventPolicies(es)
	if len(es.Spec.Webhook) == 0 {
		out.sort()
		return out, nil
	}
	name := EventSourceName(es)
	labels := map[string]string{LabelEventSource: es.Name, LabelComponent: "eventsource"}
	spec := childName(es.Name, "eventsource", "spec")
	cm, err := specConfigMap(spec, es.Namespace, labels, specOnly(es))
	if err != nil {
		return Objects{}, fmt.Errorf("render eventsource %s: %w", es.Name, err)
	}
	// Public: callers bring no token. It posts what it receives to the
	// broker as its own ServiceAccount, which its policy binds to this
	// EventSource.
	f := function{name: name, namespace: es.Namespace, labels: labels, args: []string{"function", "webhook"}, spec: spec,
		serviceAccount: EventSourceServiceAccountName(es), broker: es.Spec.BrokerName(),
		// The artifact store takes a body above the offload threshold
		// (DESIGN §11); without it only small bodies can travel.
		envFromSecret: ArtifactsSecret, envFromSecretOptional: true}
	out.Add(Objects{
		ServiceAccounts: []corev1.ServiceAccount{{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: metav1.ObjectMeta{Name: EventSourceServiceAccountName(es), Namespace: es.Namespace, Labels: withPartOf(labels)},
			// No API access; nothing needs its token but the broker's.
		}},
		ConfigMaps:   []corev1.ConfigMap{cm},
		Services:     []servingv1.Service{f.service(opts)},
		SinkBindings: []sourcesv1.SinkBinding{f.sinkBinding(es.Spec.BrokerName())},
	})
	out.sort()
	return out, nil
}

// Calendar renders an EventSource's calendar events: a PingSource each,
// into the broker, with the zfeventsource and zfevent extensions that
// sensors' Triggers route on, and Argo's metadata as the data.
func Calendar(es *v1alpha1.EventSource) Objects {
	var out Objects
	for _, event := range slices.Sorted(maps.Keys(es.Spec.Calendar)) {
		c := es.Spec.Calendar[event]
		data, _ := json.Marshal(map[string]any{"metadata": c.Metadata})
		// Validation rejects an interval with no schedule; a bad one left
		// here fails Knative's validation with the field named.
		schedule, err := c.PingSchedule()
		if err != nil {
			schedule = c.Interval
		}
		out.PingSources = append(out.PingSources, sourcesv1.PingSource{
			TypeMeta: metav1.TypeMeta{APIVersion: sourcesv1.SchemeGroupVersion.String(), Kind: "PingSource"},
			ObjectMeta: metav1.ObjectMeta{Name: childName(es.Name, "calendar", event), Namespace: es.Namespace,
				Labels: withPartOf(map[string]string{LabelEventSource: es.Name, LabelComponent: "eventsource"})},
			Spec: sourcesv1.PingSourceSpec{
				Schedule:    schedule,
				Timezone:    c.Timezone,
				ContentType: "application/json",
				Data:        string(data),
				SourceSpec: duckv1.SourceSpec{
					Sink:                brokerDestination(es.Spec.BrokerName()),
					CloudEventOverrides: &duckv1.CloudEventOverrides{Extensions: map[string]string{events.ExtEventSource: es.Name, events.ExtEvent: event}},
				},
			},
		})
	}
	return out
}
