package render

import (
	"maps"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// Who may send what to a Broker (authentication-oidc). Once one
// EventPolicy names a Broker, the Broker takes events only from the
// subjects some policy lists, and an event passes when the filters of the
// FIRST policy that lists its sender pass (auth.SubjectAndFiltersPass).
// Knative lists policies in no fixed order, so every sender identity is
// listed in exactly one policy per Broker, with all of its rights in that
// policy's filters:
//
//   - the controller's ServiceAccount: step.run, workflow.finished,
//     workflow.tick;
//   - each step function's Trigger (its replies): step.result of its own
//     function;
//   - each sensor dependency's Trigger (the filter's replies): dependency
//     events of that sensor and dependency;
//   - the sensor functions' ServiceAccount: workflow.submit and any
//     type that is not reserved (cloudEvent triggers);
//   - each EventSource's webhook ServiceAccount, its calendar PingSources
//     and its resource ApiServerSources: events of that EventSource
//     (zfeventsource), of non-reserved, ping and apiserver types each;
//   - the PingSources of CronWorkflows (all named with
//     CronPingSourcePrefix, so that one policy made at install time
//     admits those the controller makes at run time): pings. Which
//     CronWorkflow a ping may fire the controller checks: the ping's
//     source must name one of that CronWorkflow's PingSources.
//
// Senders are named by `from.ref` where Knative resolves the object to its
// OIDC identity (Triggers, PingSources, ApiServerSources: their
// status.auth), so that a policy rendered without a namespace works in any;
// the ServiceAccounts of zeroflow's functions are named by `from.sub`,
// which carries the namespace (see identityNamespace).

// DefaultNamespace is the namespace the identities of objects rendered
// without one name (token audiences and ServiceAccount subjects must name
// one): where manifests/ installs zeroflow. Objects meant for another
// namespace are rendered with it (`zeroflow render -n`); applied elsewhere
// unchanged, they fail closed (tokens for the wrong audience are refused).
const DefaultNamespace = "zeroflow"

// identityNamespace is the namespace that identities of objects in
// namespace name.
func identityNamespace(namespace string) string {
	if namespace == "" {
		return DefaultNamespace
	}
	return namespace
}

// Names of the runtime's EventPolicies.
const (
	// ControllerPolicy lets the controller's ServiceAccount send what the
	// controller sends.
	ControllerPolicy = "zeroflow-controller"
	// CronPolicy lets the PingSources of CronWorkflows send pings.
	CronPolicy = "zeroflow-cron"
)

// SensorPolicyName is the policy of the sensor functions' ServiceAccount on
// broker (one per Broker: the ServiceAccount is shared by the namespace's
// sensors).
func SensorPolicyName(broker string) string { return childName(SensorServiceAccount, broker) }

// sensorAccountPolicyName is the policy of a sensor ServiceAccount on
// broker: SensorPolicyName for zeroflow-sensor, one of its own for a
// ServiceAccount a Sensor names (each sender is listed in one policy per
// Broker).
func sensorAccountPolicyName(serviceAccount, broker string) string {
	if serviceAccount == SensorServiceAccount {
		return SensorPolicyName(broker)
	}
	return childName(SensorServiceAccount, broker, "as", serviceAccount)
}

// EventSourceServiceAccountName is the ServiceAccount an EventSource's
// webhook function runs as: its own, so that its policy can bind it to its
// EventSource's name (zfeventsource). It needs no API access.
func EventSourceServiceAccountName(es *v1alpha1.EventSource) string { return EventSourceName(es) }

// The kinds policies name, as refs spell them.
const (
	eventingAPIVersion = "eventing.knative.dev/v1"
	sourcesAPIVersion  = "sources.knative.dev/v1"
	triggerKind        = "Trigger"
)

// eventPolicy is a policy for broker: from may send when every filter
// passes.
func eventPolicy(namespace, name, broker string, labels map[string]string, from []eventingv1alpha1.EventPolicySpecFrom, filters ...eventingv1.SubscriptionsAPIFilter) eventingv1alpha1.EventPolicy {
	return eventingv1alpha1.EventPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: eventingv1alpha1.SchemeGroupVersion.String(), Kind: "EventPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: withPartOf(labels)},
		Spec: eventingv1alpha1.EventPolicySpec{
			To:      []eventingv1alpha1.EventPolicySpecTo{{Ref: &eventingv1alpha1.EventPolicyToReference{APIVersion: eventingAPIVersion, Kind: "Broker", Name: broker}}},
			From:    from,
			Filters: filters,
		},
	}
}

func fromSub(sub string) eventingv1alpha1.EventPolicySpecFrom {
	return eventingv1alpha1.EventPolicySpecFrom{Sub: &sub}
}

// fromRef names an object in the policy's namespace (Knative defaults an
// empty ref namespace to the policy's).
func fromRef(apiVersion, kind, name string) eventingv1alpha1.EventPolicySpecFrom {
	return eventingv1alpha1.EventPolicySpecFrom{Ref: &eventingv1alpha1.EventPolicyFromReference{APIVersion: apiVersion, Kind: kind, Name: name}}
}

func fromTrigger(name string) eventingv1alpha1.EventPolicySpecFrom {
	return fromRef(eventingAPIVersion, triggerKind, name)
}

func exact(attrs ...string) eventingv1.SubscriptionsAPIFilter {
	m := make(map[string]string, len(attrs)/2)
	for i := 0; i+1 < len(attrs); i += 2 {
		m[attrs[i]] = attrs[i+1]
	}
	return eventingv1.SubscriptionsAPIFilter{Exact: m}
}

func anyOf(fs ...eventingv1.SubscriptionsAPIFilter) eventingv1.SubscriptionsAPIFilter {
	return eventingv1.SubscriptionsAPIFilter{Any: fs}
}

func not(f eventingv1.SubscriptionsAPIFilter) eventingv1.SubscriptionsAPIFilter {
	return eventingv1.SubscriptionsAPIFilter{Not: &f}
}

// notReserved passes the types an outside event may have: none of
// zeroflow's, nor the ping and ApiServerSource types it routes on
// (events.ReservedType).
func notReserved() []eventingv1.SubscriptionsAPIFilter {
	return []eventingv1.SubscriptionsAPIFilter{
		not(eventingv1.SubscriptionsAPIFilter{Prefix: map[string]string{"type": events.ReservedTypePrefix}}),
		not(eventingv1.SubscriptionsAPIFilter{Prefix: map[string]string{"type": events.ReservedAPIServerTypePrefix}}),
		not(exact("type", events.TypeKnativePing)),
	}
}

// ControllerEventPolicy lets the controller (its ServiceAccount, which it
// posts with) send step.run, step.cancel, workflow.finished and
// workflow.tick.
func ControllerEventPolicy(namespace, broker string) eventingv1alpha1.EventPolicy {
	return eventPolicy(namespace, ControllerPolicy, broker, map[string]string{LabelComponent: "controller"},
		[]eventingv1alpha1.EventPolicySpecFrom{fromSub(sdk.ServiceAccountSubject(identityNamespace(namespace), ControllerServiceAccount))},
		anyOf(exact("type", events.TypeStepRun), exact("type", events.TypeStepCancel), exact("type", events.TypeWorkflowFinished), exact("type", events.TypeWorkflowTick)))
}

// StepSenderPolicy names StepSenderEventPolicy.
const StepSenderPolicy = "zeroflow-step-senders"

// StepSenderEventPolicy lets the step functions of the namespace (any of
// its ServiceAccounts: a user function runs under its own) send what a
// running step sends by itself: heartbeats, and a result that no request
// is left to carry back. Both must carry the step token of the attempt's
// step.run, which the controller checks; this policy only keeps every
// other sender from putting them on the broker.
func StepSenderEventPolicy(namespace, broker string) eventingv1alpha1.EventPolicy {
	return eventPolicy(namespace, StepSenderPolicy, broker, map[string]string{LabelComponent: "step"},
		[]eventingv1alpha1.EventPolicySpecFrom{fromSub(sdk.ServiceAccountSubject(identityNamespace(namespace), "*"))},
		anyOf(exact("type", events.TypeStepHeartbeat), exact("type", events.TypeStepResult)))
}

// StepFunctionEventPolicy lets the step Trigger of function (its replies)
// send the function's step results and nothing else. It is named as the
// Trigger, so that rendering the same function twice gives one policy.
func StepFunctionEventPolicy(namespace, broker, function string) eventingv1alpha1.EventPolicy {
	name := stepTriggerName(function)
	return eventPolicy(namespace, name, broker, map[string]string{LabelComponent: "step", LabelFunction: function},
		[]eventingv1alpha1.EventPolicySpecFrom{fromTrigger(name)},
		exact("type", events.TypeStepResult, events.ExtFunction, function))
}

// RuntimeEventPolicies are the runtime's policies on broker: the
// controller's, the CronWorkflows' PingSources' and each built-in step
// function's.
func RuntimeEventPolicies(namespace, broker string) []eventingv1alpha1.EventPolicy {
	out := []eventingv1alpha1.EventPolicy{ControllerEventPolicy(namespace, broker), CronEventPolicy(namespace, broker), StepSenderEventPolicy(namespace, broker)}
	for _, fn := range BuiltinFunctions {
		out = append(out, StepFunctionEventPolicy(namespace, broker, fn))
	}
	sortPolicies(out)
	return out
}

// SensorEventPolicies are a sensor's policies: each dependency Trigger
// (the filter's replies to it) may send that dependency's events, and the
// sensor functions' ServiceAccount may send submits and non-reserved
// types (the same policy for every sensor on the broker).
func SensorEventPolicies(s *v1alpha1.Sensor) []eventingv1alpha1.EventPolicy {
	broker := s.Spec.BrokerName()
	out := make([]eventingv1alpha1.EventPolicy, 0, len(s.Spec.Dependencies)+1)
	for _, d := range s.Spec.Dependencies {
		name := sensorDependencyTriggerName(s, d.Name)
		out = append(out, eventPolicy(s.Namespace, name, broker, map[string]string{LabelSensor: s.Name, LabelDependency: d.Name, LabelComponent: "sensor"},
			[]eventingv1alpha1.EventPolicySpecFrom{fromTrigger(name)},
			exact("type", events.TypeDependency, events.ExtSensor, s.Name, events.ExtDependency, d.Name)))
	}
	out = append(out, SensorServiceAccountEventPolicy(s.Namespace, broker, SensorServiceAccountName(s)))
	sortPolicies(out)
	return out
}

// SensorServiceAccountEventPolicy lets the sensor functions of namespace
// that run as serviceAccount (zeroflow-sensor unless a Sensor names
// another) submit workflows and send their cloudEvent triggers' events
// (any type that is not reserved) to broker.
func SensorServiceAccountEventPolicy(namespace, broker, serviceAccount string) eventingv1alpha1.EventPolicy {
	return eventPolicy(namespace, sensorAccountPolicyName(serviceAccount, broker), broker, map[string]string{LabelComponent: "sensor"},
		[]eventingv1alpha1.EventPolicySpecFrom{fromSub(sdk.ServiceAccountSubject(identityNamespace(namespace), serviceAccount))},
		anyOf(exact("type", events.TypeWorkflowSubmit), eventingv1.SubscriptionsAPIFilter{All: notReserved()}))
}

// EventSourceEventPolicies are an EventSource's policies: its webhook
// function's ServiceAccount may send non-reserved types, its calendar
// PingSources pings, its resource ApiServerSources apiserver events; all
// only with zfeventsource = the EventSource.
func EventSourceEventPolicies(es *v1alpha1.EventSource) []eventingv1alpha1.EventPolicy {
	broker := es.Spec.BrokerName()
	labels := map[string]string{LabelEventSource: es.Name, LabelComponent: "eventsource"}
	own := exact(events.ExtEventSource, es.Name)
	var out []eventingv1alpha1.EventPolicy
	if len(es.Spec.Webhook) > 0 {
		out = append(out, eventPolicy(es.Namespace, EventSourceName(es), broker, labels,
			[]eventingv1alpha1.EventPolicySpecFrom{fromSub(sdk.ServiceAccountSubject(identityNamespace(es.Namespace), EventSourceServiceAccountName(es)))},
			append(notReserved(), own)...))
	}
	var pings, watches []eventingv1alpha1.EventPolicySpecFrom
	for _, p := range Calendar(es).PingSources {
		pings = append(pings, fromRef(sourcesAPIVersion, "PingSource", p.Name))
	}
	for _, a := range ResourceSources(es).ApiServerSources {
		watches = append(watches, fromRef(sourcesAPIVersion, "ApiServerSource", a.Name))
	}
	if len(pings) > 0 {
		out = append(out, eventPolicy(es.Namespace, childName(es.Name, "calendar"), broker, labels, pings,
			exact("type", events.TypeKnativePing, events.ExtEventSource, es.Name)))
	}
	if len(watches) > 0 {
		out = append(out, eventPolicy(es.Namespace, childName(es.Name, "resource"), broker, labels, watches,
			eventingv1.SubscriptionsAPIFilter{Prefix: map[string]string{"type": events.ReservedAPIServerTypePrefix}}, own))
	}
	sortPolicies(out)
	return out
}

// CronEventPolicy lets the PingSources of the namespace's CronWorkflows
// send pings to broker. They are named by a subject prefix, not by ref:
// the controller makes PingSources for CronWorkflows created at any time,
// and Knative names each one's OIDC ServiceAccount after it
// (<name>-oidc-sources.knative.dev-pingsource, cut and hashed past 63
// characters but always starting with the name's first 31), so all of them
// start with CronPingSourcePrefix.
func CronEventPolicy(namespace, broker string) eventingv1alpha1.EventPolicy {
	return eventPolicy(namespace, CronPolicy, broker, map[string]string{LabelComponent: "cron"},
		[]eventingv1alpha1.EventPolicySpecFrom{fromSub(sdk.ServiceAccountSubject(identityNamespace(namespace), CronPingSourcePrefix+"*"))},
		exact("type", events.TypeKnativePing))
}

// EventPolicies are every policy for in and the runtime, on the brokers
// they send to (broker for the runtime and the step functions): what
// Render and Runtime put in Objects.EventPolicies. The embedded broker of
// `zeroflow dev` enforces these, as a cluster's does.
func EventPolicies(in Input, namespace, broker string) ([]eventingv1alpha1.EventPolicy, error) {
	out, err := Render(in, namespace, broker, Options{})
	if err != nil {
		return nil, err
	}
	out.Add(Objects{EventPolicies: RuntimeEventPolicies(namespace, broker)})
	out.sort()
	return out.EventPolicies, nil
}

// EventPolicySubjects are the OIDC subjects p lets send, as Knative
// resolves them: a `sub` as written (a trailing * matches a prefix), a
// ref to a Trigger, PingSource or ApiServerSource as the identity Knative
// gives it (identity.go), in the ref's namespace or else the policy's.
// A ref of another kind resolves to nothing: it lets no one send.
func EventPolicySubjects(p *eventingv1alpha1.EventPolicy) []string {
	var out []string
	for _, f := range p.Spec.From {
		switch {
		case f.Sub != nil:
			out = append(out, *f.Sub)
		case f.Ref != nil:
			ns := f.Ref.Namespace
			if ns == "" {
				ns = p.Namespace
			}
			ns = identityNamespace(ns)
			group, _, _ := strings.Cut(f.Ref.APIVersion, "/")
			switch {
			case group == "eventing.knative.dev" && f.Ref.Kind == triggerKind:
				out = append(out, TriggerSubject(ns, f.Ref.Name))
			case group == "sources.knative.dev" && f.Ref.Kind == "PingSource":
				out = append(out, PingSourceSubject(ns, f.Ref.Name))
			case group == "sources.knative.dev" && f.Ref.Kind == "ApiServerSource":
				out = append(out, ApiServerSourceSubject(ns, f.Ref.Name))
			}
		}
	}
	return out
}

func sortPolicies(ps []eventingv1alpha1.EventPolicy) {
	slices.SortFunc(ps, func(a, b eventingv1alpha1.EventPolicy) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// dedupePolicies drops repeats of one policy (same namespace and name)
// from sorted ps: the sensor ServiceAccount's policy comes with every
// sensor on a broker, and a step function's with every directory that
// calls it; the same builder made each copy from the same names.
func dedupePolicies(ps []eventingv1alpha1.EventPolicy) []eventingv1alpha1.EventPolicy {
	return slices.CompactFunc(ps, func(a, b eventingv1alpha1.EventPolicy) bool {
		return a.Namespace == b.Namespace && a.Name == b.Name
	})
}

// allowedSubjects joins subjects for EnvAllowedSubjects, sorted and
// without repeats.
func allowedSubjects(subjects ...string) string {
	set := map[string]bool{}
	for _, s := range subjects {
		set[s] = true
	}
	return strings.Join(slices.Sorted(maps.Keys(set)), ",")
}
