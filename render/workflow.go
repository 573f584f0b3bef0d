package render

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// LabelFunction marks a step function's Trigger with the function it
// routes to.
const LabelFunction = "zeroflow.dev/function"

// ControllerService is the Kubernetes Service in front of the controller's
// Deployment, which its Triggers deliver to.
const ControllerService = "zeroflow-controller"

// ArchiveFunction is the built-in function that stores run records.
const ArchiveFunction = "archive"

// DeadLetterFunction is the built-in function Brokers send what they could
// not deliver to (their deadLetterSink): it stores each event.
const DeadLetterFunction = "dead-letter"

// ArtifactsSecret holds ZEROFLOW_ARTIFACTS (an s3:// URL) and the
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of the artifact store, for the
// built-in functions (and the user's, which should read it too).
const ArtifactsSecret = "zeroflow-artifacts"

// BuiltinFunctions are the step functions zeroflow ships, by the name
// templates route with (zffunction); each runs as BuiltinService(name).
var BuiltinFunctions = []string{engine.FunctionExec, engine.FunctionHTTP, engine.FunctionResource}

// BuiltinService is the Knative Service of a built-in function.
func BuiltinService(function string) string { return "zeroflow-" + function }

// ControllerTriggers route the controller's inputs on broker to it:
// submits, step results, ticks and the firings of CronWorkflows, one
// Trigger each (a Trigger matches one type). The firings of every
// CronWorkflow share one Trigger, so that a CronWorkflow made at run time
// needs no Trigger of its own and the controller's callers are known when
// it is installed: it takes the pings that carry zfcronworkflow (an empty
// attribute value is Knative's "set, to any value"), not the calendar
// EventSources' pings. They are named after the broker, since a
// namespace may have several that sensors submit to, except on "default",
// whose names predate that and stay stable.
func ControllerTriggers(namespace, broker string) []eventingv1.Trigger {
	out := make([]eventingv1.Trigger, 0, 5)
	for _, t := range []struct {
		name  string
		attrs eventingv1.TriggerFilterAttributes
	}{
		{"submit", eventingv1.TriggerFilterAttributes{"type": events.TypeWorkflowSubmit}},
		{"result", eventingv1.TriggerFilterAttributes{"type": events.TypeStepResult}},
		{"heartbeat", eventingv1.TriggerFilterAttributes{"type": events.TypeStepHeartbeat}},
		{"tick", eventingv1.TriggerFilterAttributes{"type": events.TypeWorkflowTick}},
		{"cron", eventingv1.TriggerFilterAttributes{"type": events.TypeKnativePing, events.ExtCronWorkflow: eventingv1.TriggerAnyFilter}},
	} {
		name := childName(ControllerService, t.name)
		if broker != "default" {
			name = childName(ControllerService, broker, t.name)
		}
		out = append(out, trigger(namespace, name, broker,
			map[string]string{LabelComponent: "controller"},
			t.attrs, coreServiceDestination(ControllerService)))
	}
	return out
}

// ResyncPingSource makes the controller look at every unfinished workflow
// each minute (manifests/controller).
const ResyncPingSource = "zeroflow-resync"

// ControllerResync is the resync PingSource: it sends the controller
// itself (not the broker) a ping each minute, with the controller's
// audience.
func ControllerResync(namespace string) sourcesv1.PingSource {
	return sourcesv1.PingSource{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcesv1.SchemeGroupVersion.String(), Kind: "PingSource"},
		ObjectMeta: metav1.ObjectMeta{Name: ResyncPingSource, Namespace: namespace, Labels: withPartOf(map[string]string{LabelComponent: "controller"})},
		Spec: sourcesv1.PingSourceSpec{
			Schedule:   "* * * * *",
			SourceSpec: duckv1.SourceSpec{Sink: withAudience(namespace, coreServiceDestination(ControllerService))},
		},
	}
}

// ControllerIdentity is the controller's environment for its sender
// identity (the audience and callers it checks: its Triggers and the
// resync PingSource; its broker token) and the token's volume and mount.
// buses are the other Brokers sensors submit to (EventBuses): their
// controller Triggers may call it too.
func ControllerIdentity(namespace, broker string, opts Options, buses ...BrokerRef) ([]corev1.EnvVar, corev1.Volume, corev1.VolumeMount) {
	ns := identityNamespace(namespace)
	callers := []string{PingSourceSubject(ns, ResyncPingSource)}
	for _, t := range ControllerTriggers(namespace, broker) {
		callers = append(callers, TriggerSubject(ns, t.Name))
	}
	for _, b := range buses {
		for _, t := range ControllerTriggers(b.Namespace, b.Name) {
			callers = append(callers, TriggerSubject(identityNamespace(b.Namespace), t.Name))
		}
	}
	// The controller's Triggers on the Brokers of other namespaces (made
	// at run time, or by another render) are not known when the
	// Deployment is: they are all named zeroflow-controller-*, and the
	// controller keeps each submit in its sender's namespace.
	callers = append(callers, "system:serviceaccount:*:"+ControllerService+"-*")
	f := function{name: ControllerService, namespace: namespace, callers: callers, broker: broker, audience: ControllerAudience(ns)}
	env, volumes, mounts := f.identity(opts)
	return env, volumes[0], mounts[0]
}

// StepDeliveryTimeout bounds one delivery of a step.run: a step runs in
// the request that delivers it, heartbeating, so the broker's usual
// timeout (a minute, or Knative's default) would cut every longer step. A
// step that outlasts it keeps running: the broker's retry joins it, and its
// result goes to the broker as an event.
const StepDeliveryTimeout = "PT24H"

// StepFunctionTrigger routes the step.run events of one function (a
// built-in or a user's) to the Knative Service that runs it.
func StepFunctionTrigger(namespace, broker, function, service string) eventingv1.Trigger {
	t := trigger(namespace, stepTriggerName(function), broker,
		map[string]string{LabelComponent: "step", LabelFunction: function},
		eventingv1.TriggerFilterAttributes{"type": events.TypeStepRun, events.ExtFunction: function}, serviceDestination(service, ""))
	// The Broker's delivery, whole (a Trigger's replaces it), with the
	// long timeout.
	timeout := StepDeliveryTimeout
	t.Spec.Delivery = BrokerDelivery()
	t.Spec.Delivery.Timeout = &timeout
	return t
}

// StepCancelTrigger routes the controller's step.cancel events for one
// function to the Service that runs it.
func StepCancelTrigger(namespace, broker, function, service string) eventingv1.Trigger {
	return trigger(namespace, childName("zeroflow-step-cancel", function), broker,
		map[string]string{LabelComponent: "step", LabelFunction: function},
		eventingv1.TriggerFilterAttributes{"type": events.TypeStepCancel, events.ExtFunction: function}, serviceDestination(service, ""))
}

// StepFunctionTriggers are a step function's Triggers: its step.run and
// its step.cancel events.
func StepFunctionTriggers(namespace, broker, function, service string) []eventingv1.Trigger {
	return []eventingv1.Trigger{StepFunctionTrigger(namespace, broker, function, service), StepCancelTrigger(namespace, broker, function, service)}
}

// stepTriggerName is the name of function's step Trigger (and of the
// policy that lets its replies through).
func stepTriggerName(function string) string { return childName("zeroflow-step", function) }

// ArchiveTrigger routes workflow.finished to the archive function.
func ArchiveTrigger(namespace, broker string) eventingv1.Trigger {
	return trigger(namespace, BuiltinService(ArchiveFunction), broker,
		map[string]string{LabelComponent: "archive"},
		eventingv1.TriggerFilterAttributes{"type": events.TypeWorkflowFinished}, serviceDestination(BuiltinService(ArchiveFunction), ""))
}

// Runtime is the workflow runtime's share of a namespace's objects: the
// controller's Triggers, and each built-in function's Service, SinkBinding
// and Trigger (with opts.ExecJobs, exec's are ExecJobSinkObjects). The
// controller itself (a Deployment, which keeps its watch and timers)
// ships in manifests/controller.
func Runtime(namespace, broker string, opts Options) Objects {
	var out Objects
	out.Triggers = append(out.Triggers, ControllerTriggers(namespace, broker)...)
	out.EventPolicies = RuntimeEventPolicies(namespace, broker)
	ns := identityNamespace(namespace)
	for _, fn := range append(append([]string(nil), BuiltinFunctions...), ArchiveFunction, DeadLetterFunction) {
		if fn == engine.FunctionExec && opts.ExecJobs {
			// Its step.run events go to the JobSink's Jobs instead.
			out.Add(ExecJobSinkObjects(namespace, broker, opts))
			continue
		}
		f := function{
			name: BuiltinService(fn), namespace: namespace,
			labels:         map[string]string{LabelComponent: "builtin", LabelFunction: fn},
			args:           []string{"function", fn},
			serviceAccount: BuiltinService(fn),
			envFromSecret:  ArtifactsSecret,
		}
		switch fn {
		case ArchiveFunction:
			f.callers = []string{TriggerSubject(ns, BuiltinService(ArchiveFunction))}
		case DeadLetterFunction:
			// A Broker delivers dead letters with the identity of the
			// Trigger whose delivery failed: any Trigger of the namespace,
			// which a subject can only name as a prefix.
			f.callers = []string{sdk.ServiceAccountSubject(ns, "*")}
		default:
			f.callers = []string{TriggerSubject(ns, stepTriggerName(fn))}
		}
		out.Services = append(out.Services, f.service(opts))
		out.SinkBindings = append(out.SinkBindings, f.sinkBinding(broker))
		switch fn {
		case ArchiveFunction:
			out.Triggers = append(out.Triggers, ArchiveTrigger(namespace, broker))
		case DeadLetterFunction:
			// The Broker's deadLetterSink, not a Trigger, sends to it.
		default:
			out.Triggers = append(out.Triggers, StepFunctionTriggers(namespace, broker, fn, BuiltinService(fn))...)
		}
	}
	out.sort()
	return out
}

// CalledFunctions lists the user functions (`function` templates) that the
// input's WorkflowTemplates, Workflows and CronWorkflows call, sorted.
func (in Input) CalledFunctions() []string {
	seen := map[string]bool{}
	add := func(ts []v1alpha1.Template) {
		for _, t := range ts {
			if t.Function != nil {
				seen[t.Function.Name] = true
			}
		}
	}
	for _, t := range in.WorkflowTemplates {
		add(t.Spec.Templates)
	}
	for _, w := range in.Workflows {
		add(w.Spec.Templates)
	}
	for _, cw := range in.CronWorkflows {
		add(cw.Spec.WorkflowSpec.Templates)
	}
	return slices.Sorted(maps.Keys(seen))
}

func trigger(namespace, name, broker string, labels map[string]string, attrs eventingv1.TriggerFilterAttributes, to duckv1.Destination) eventingv1.Trigger {
	return eventingv1.Trigger{
		TypeMeta:   metav1.TypeMeta{APIVersion: eventingv1.SchemeGroupVersion.String(), Kind: "Trigger"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: withPartOf(labels)},
		Spec: eventingv1.TriggerSpec{
			Broker:     broker,
			Filter:     &eventingv1.TriggerFilter{Attributes: attrs},
			Subscriber: withAudience(namespace, to),
		},
	}
}
