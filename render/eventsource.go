package render

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// EventSourceName is the name of the Knative Service that serves an
// EventSource's webhooks.
func EventSourceName(es *v1alpha1.EventSource) string { return childName(es.Name, "eventsource") }

// EventSource renders an EventSource: one Knative Service serves all its
// webhooks on $PORT (on a cluster the Service's URL replaces the ports
// Argo's webhooks listen on), with its spec in a ConfigMap and the broker
// as its sink.
func EventSource(es *v1alpha1.EventSource, opts Options) (Objects, error) {
	name := EventSourceName(es)
	labels := map[string]string{LabelEventSource: es.Name, LabelComponent: "eventsource"}
	spec := childName(es.Name, "eventsource", "spec")
	cm, err := specConfigMap(spec, es.Namespace, labels, specOnly(es))
	if err != nil {
		return Objects{}, fmt.Errorf("render eventsource %s: %w", es.Name, err)
	}
	f := function{name: name, namespace: es.Namespace, labels: labels, args: []string{"function", "webhook"}, spec: spec, serviceAccount: "zeroflow-eventsource"}
	return Objects{
		ConfigMaps:   []corev1.ConfigMap{cm},
		Services:     []servingv1.Service{f.service(opts)},
		SinkBindings: []sourcesv1.SinkBinding{f.sinkBinding(es.Spec.BrokerName())},
	}, nil
}
