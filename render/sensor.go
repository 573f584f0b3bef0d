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
	out := Objects{ConfigMaps: []corev1.ConfigMap{cm}, EventPolicies: SensorEventPolicies(s)}
	ns := identityNamespace(s.Namespace)
	var deps []string
	for _, d := range s.Spec.Dependencies {
		deps = append(deps, TriggerSubject(ns, sensorDependencyTriggerName(s, d.Name)))
	}
	for _, f := range []function{
		// The filter only replies (its dependency events): no broker token.
		{name: SensorFilterName(s), args: []string{"function", "filter"}, serviceAccount: FilterServiceAccount, callers: deps},
		// The sensor keeps its condition state in the Sensor's status and
		// submits workflows: it needs the API, and posts to the broker.
		{name: SensorFunctionName(s), args: []string{"function", "sensor"}, serviceAccount: SensorServiceAccountName(s),
			callers: []string{TriggerSubject(ns, sensorTriggerName(s))}, broker: broker},
	} {
		f.namespace, f.spec, f.labels = s.Namespace, spec, map[string]string{LabelSensor: s.Name, LabelComponent: "sensor"}
		// Large events arrive offloaded to the artifact store (DESIGN §11).
		f.envFromSecret, f.envFromSecretOptional = ArtifactsSecret, true
		out.Services = append(out.Services, f.service(opts))
		out.SinkBindings = append(out.SinkBindings, f.sinkBinding(broker))
	}
	out.Triggers = SensorTriggers(s)
	out.sort()
	return out, nil
}

// SensorServiceAccountName is the ServiceAccount a sensor's sensor function
// runs as, and acts on the API with (its k8s and workflow triggers): the
// Sensor's spec.template.serviceAccountName (Argo's field), else the
// namespace's zeroflow-sensor.
func SensorServiceAccountName(s *v1alpha1.Sensor) string {
	if s.Spec.Template != nil && s.Spec.Template.ServiceAccountName != "" {
		return s.Spec.Template.ServiceAccountName
	}
	return SensorServiceAccount
}

// sensorDependencyTriggerName is the Trigger of a sensor's dependency into
// its filter (and the policy that lets the filter's replies through).
func sensorDependencyTriggerName(s *v1alpha1.Sensor, dependency string) string {
	return childName(s.Name, "dep", dependency)
}

// sensorTriggerName is the Trigger of a sensor's dependency events into
// its sensor function.
func sensorTriggerName(s *v1alpha1.Sensor) string { return childName(s.Name, "sensor") }

// SensorTriggers are the Knative Triggers that route a sensor's events:
// one per dependency, from its EventSource and event to the filter
// function at /<dependency>, and one from the filter's dependency events
// to the sensor function.
func SensorTriggers(s *v1alpha1.Sensor) []eventingv1.Trigger {
	broker := s.Spec.BrokerName()
	out := make([]eventingv1.Trigger, 0, len(s.Spec.Dependencies)+1)
	for _, d := range s.Spec.Dependencies {
		out = append(out, trigger(s.Namespace, sensorDependencyTriggerName(s, d.Name), broker,
			map[string]string{LabelSensor: s.Name, LabelDependency: d.Name},
			eventingv1.TriggerFilterAttributes{events.ExtEventSource: d.EventSourceName, events.ExtEvent: d.EventName},
			serviceDestination(SensorFilterName(s), "/"+d.Name)))
	}
	out = append(out, trigger(s.Namespace, sensorTriggerName(s), broker,
		map[string]string{LabelSensor: s.Name},
		// No zfnamespace: the Trigger and the Broker are in the sensor's
		// namespace already, and a directory rendered without one gets it
		// when applied.
		eventingv1.TriggerFilterAttributes{"type": events.TypeDependency, events.ExtSensor: s.Name},
		serviceDestination(SensorFunctionName(s), "")))
	return out
}
