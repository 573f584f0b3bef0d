package render

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/zeroflow-dev/zeroflow/api/events"
)

// Labels on the workflow runtime's Triggers.
const (
	LabelComponent = "zeroflow.dev/component"
	LabelFunction  = "zeroflow.dev/function"
)

// ControllerTriggers route the controller's inputs to it: submits, step
// results and ticks, one Trigger each (a Trigger matches one type).
func ControllerTriggers(namespace, broker string, controller *apis.URL) []eventingv1.Trigger {
	out := make([]eventingv1.Trigger, 0, 3)
	for _, t := range []struct{ name, typ string }{
		{"submit", events.TypeWorkflowSubmit},
		{"result", events.TypeStepResult},
		{"tick", events.TypeWorkflowTick},
	} {
		out = append(out, trigger(namespace, childName("zeroflow-controller", t.name), broker,
			map[string]string{LabelComponent: "controller"},
			eventingv1.TriggerFilterAttributes{"type": t.typ}, controller))
	}
	return out
}

// StepFunctionTrigger routes the step.run events of one function (a
// built-in or a user's) to it.
func StepFunctionTrigger(namespace, broker, function string, uri *apis.URL) eventingv1.Trigger {
	return trigger(namespace, childName("zeroflow-step", function), broker,
		map[string]string{LabelComponent: "step", LabelFunction: function},
		eventingv1.TriggerFilterAttributes{"type": events.TypeStepRun, events.ExtFunction: function}, uri)
}

// ArchiveTrigger routes workflow.finished to the archive function.
func ArchiveTrigger(namespace, broker string, uri *apis.URL) eventingv1.Trigger {
	return trigger(namespace, "zeroflow-archive", broker,
		map[string]string{LabelComponent: "archive"},
		eventingv1.TriggerFilterAttributes{"type": events.TypeWorkflowFinished}, uri)
}

func trigger(namespace, name, broker string, labels map[string]string, attrs eventingv1.TriggerFilterAttributes, uri *apis.URL) eventingv1.Trigger {
	return eventingv1.Trigger{
		TypeMeta:   metav1.TypeMeta{APIVersion: eventingv1.SchemeGroupVersion.String(), Kind: "Trigger"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: eventingv1.TriggerSpec{
			Broker:     broker,
			Filter:     &eventingv1.TriggerFilter{Attributes: attrs},
			Subscriber: duckv1.Destination{URI: uri},
		},
	}
}
