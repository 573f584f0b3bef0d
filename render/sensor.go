package render

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// Labels on rendered objects.
const (
	LabelSensor      = "zeroflow.dev/sensor"
	LabelEventSource = "zeroflow.dev/eventsource"
	LabelDependency  = "zeroflow.dev/dependency"
)

// SensorFilterName is the name of a sensor's filter function.
func SensorFilterName(s *v1alpha1.Sensor) string { return childName(s.Name, "filter") }

// SensorFunctionName is the name of a sensor's sensor function.
func SensorFunctionName(s *v1alpha1.Sensor) string { return childName(s.Name, "sensor") }

// SensorTriggers are the Knative Triggers that route a sensor's events:
// one per dependency, from its EventSource and event to the filter
// function at /<dependency>, and one from the filter's dependency events
// to the sensor function. filter and sensor are the functions' addresses.
func SensorTriggers(s *v1alpha1.Sensor, filter, sensor *apis.URL) []eventingv1.Trigger {
	broker := s.Spec.BrokerName()
	out := make([]eventingv1.Trigger, 0, len(s.Spec.Dependencies)+1)
	for _, d := range s.Spec.Dependencies {
		uri := *filter
		uri.Path = "/" + d.Name
		out = append(out, eventingv1.Trigger{
			TypeMeta: metav1.TypeMeta{APIVersion: eventingv1.SchemeGroupVersion.String(), Kind: "Trigger"},
			ObjectMeta: metav1.ObjectMeta{
				Name:      childName(s.Name, "dep", d.Name),
				Namespace: s.Namespace,
				Labels:    map[string]string{LabelSensor: s.Name, LabelDependency: d.Name},
			},
			Spec: eventingv1.TriggerSpec{
				Broker: broker,
				Filter: &eventingv1.TriggerFilter{Attributes: eventingv1.TriggerFilterAttributes{
					events.ExtEventSource: d.EventSourceName,
					events.ExtEvent:       d.EventName,
				}},
				Subscriber: duckv1.Destination{URI: &uri},
			},
		})
	}
	out = append(out, eventingv1.Trigger{
		TypeMeta: metav1.TypeMeta{APIVersion: eventingv1.SchemeGroupVersion.String(), Kind: "Trigger"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      childName(s.Name, "sensor"),
			Namespace: s.Namespace,
			Labels:    map[string]string{LabelSensor: s.Name},
		},
		Spec: eventingv1.TriggerSpec{
			Broker: broker,
			Filter: &eventingv1.TriggerFilter{Attributes: eventingv1.TriggerFilterAttributes{
				"type":              events.TypeDependency,
				events.ExtSensor:    s.Name,
				events.ExtNamespace: s.Namespace,
			}},
			Subscriber: duckv1.Destination{URI: sensor},
		},
	})
	return out
}
