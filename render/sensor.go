package render

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"

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

// Sensor renders a sensor: its filter and sensor functions (Services with
// SinkBindings), the ConfigMap both read the Sensor from, and its Triggers.
func Sensor(s *v1alpha1.Sensor, opts Options) (Objects, error) {
	broker := s.Spec.BrokerName()
	spec := childName(s.Name, "sensor", "spec")
	cm, err := specConfigMap(spec, s.Namespace, map[string]string{LabelSensor: s.Name}, specOnly(s))
	if err != nil {
		return Objects{}, fmt.Errorf("render sensor %s: %w", s.Name, err)
	}
	out := Objects{ConfigMaps: []corev1.ConfigMap{cm}}
	for _, f := range []function{
		{name: SensorFilterName(s), args: []string{"function", "filter"}, serviceAccount: "zeroflow-filter"},
		// The sensor keeps its condition state in the Sensor's status and
		// submits workflows: it needs the API.
		{name: SensorFunctionName(s), args: []string{"function", "sensor"}, serviceAccount: "zeroflow-sensor"},
	} {
		f.namespace, f.spec, f.labels = s.Namespace, spec, map[string]string{LabelSensor: s.Name, LabelComponent: "sensor"}
		out.Services = append(out.Services, f.service(opts))
		out.SinkBindings = append(out.SinkBindings, f.sinkBinding(broker))
	}
	out.Triggers = SensorTriggers(s)
	out.sort()
	return out, nil
}

// SensorTriggers are the Knative Triggers that route a sensor's events:
// one per dependency, from its EventSource and event to the filter
// function at /<dependency>, and one from the filter's dependency events
// to the sensor function.
func SensorTriggers(s *v1alpha1.Sensor) []eventingv1.Trigger {
	broker := s.Spec.BrokerName()
	out := make([]eventingv1.Trigger, 0, len(s.Spec.Dependencies)+1)
	for _, d := range s.Spec.Dependencies {
		out = append(out, trigger(s.Namespace, childName(s.Name, "dep", d.Name), broker,
			map[string]string{LabelSensor: s.Name, LabelDependency: d.Name},
			eventingv1.TriggerFilterAttributes{events.ExtEventSource: d.EventSourceName, events.ExtEvent: d.EventName},
			serviceDestination(SensorFilterName(s), "/"+d.Name)))
	}
	out = append(out, trigger(s.Namespace, childName(s.Name, "sensor"), broker,
		map[string]string{LabelSensor: s.Name},
		// No zfnamespace: the Trigger and the Broker are in the sensor's
		// namespace already, and a directory rendered without one gets it
		// when applied.
		eventingv1.TriggerFilterAttributes{"type": events.TypeDependency, events.ExtSensor: s.Name},
		serviceDestination(SensorFunctionName(s), "")))
	return out
}
