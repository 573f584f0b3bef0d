package render

import (
	"slices"
	"strings"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// An EventSource's or Sensor's eventBusName is Argo's name for "this
// Broker" (BrokerName), in the object's namespace; a CronWorkflow's
// PingSources fire into the broker Render is given, in the CronWorkflow's
// namespace. Any name and namespace work: the Brokers they name that a
// directory does not declare are made with zeroflow's delivery
// (EventBusBrokers), each gets the controller's Triggers (sensors submit
// there), and dead letters go to the runtime's dead-letter function from
// every namespace (DeadLetterSink).

// BrokerRef names a Broker.
type BrokerRef struct{ Namespace, Name string }

func (r BrokerRef) String() string { return r.Namespace + "/" + r.Name }

// EventBuses are the Brokers in's objects read from and send to, sorted:
// each EventSource's and Sensor's eventBusName in its namespace, and
// broker in each CronWorkflow's namespace. Objects without a namespace
// are in namespace.
func (in Input) EventBuses(namespace, broker string) []BrokerRef {
	seen := map[BrokerRef]bool{}
	add := func(ns, name string) {
		if ns == "" {
			ns = namespace
		}
		seen[BrokerRef{ns, name}] = true
	}
	for _, es := range in.EventSources {
		add(es.Namespace, es.Spec.BrokerName())
	}
	for _, s := range in.Sensors {
		add(s.Namespace, s.Spec.BrokerName())
	}
	for _, cw := range in.CronWorkflows {
		add(cw.Namespace, broker)
	}
	out := make([]BrokerRef, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b BrokerRef) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// DeadLetterSink is the runtime's dead-letter function as a Broker in
// brokerNamespace reaches it: in runtimeNamespace (named in the ref when
// it is another namespace, which Knative allows a Broker's delivery by
// default), with that Service's audience.
func DeadLetterSink(brokerNamespace, runtimeNamespace string) duckv1.Destination {
	d := serviceDestination(BuiltinService(DeadLetterFunction), "")
	if brokerNamespace != "" && brokerNamespace != runtimeNamespace {
		d.Ref.Namespace = identityNamespace(runtimeNamespace)
	}
	return withAudience(runtimeNamespace, d)
}

// EventBusControllerTriggers are the controller's Triggers on a Broker
// that is not the runtime's (ControllerTriggers). On a Broker in another
// namespace than the controller's they deliver to its Service's address:
// Knative refuses a Trigger whose subscriber ref names another namespace.
func EventBusControllerTriggers(ref BrokerRef, runtimeNamespace string) []eventingv1.Trigger {
	ts := ControllerTriggers(ref.Namespace, ref.Name)
	if ref.Namespace == "" || ref.Namespace == runtimeNamespace {
		return ts
	}
	ns := identityNamespace(runtimeNamespace)
	aud := ControllerAudience(ns)
	for i := range ts {
		ts[i].Spec.Subscriber = duckv1.Destination{
			URI:      &apis.URL{Scheme: "http", Host: ControllerService + "." + ns + ".svc.cluster.local"},
			Audience: &aud,
		}
	}
	return ts
}

// ControllerDestination names the controller's Service in namespace, with
// its audience: how `zeroflow dev`, whose one controller serves every
// namespace, routes the controller's Triggers of other namespaces (its
// broker resolves refs in any namespace).
func ControllerDestination(namespace string) duckv1.Destination {
	d := withAudience(namespace, coreServiceDestination(ControllerService))
	d.Ref.Namespace = identityNamespace(namespace)
	return d
}

// EventBusBroker is a Broker an object names that is not declared: of
// class (with config, as Broker), with zeroflow's delivery and its dead
// letters sent to the dead-letter function of runtimeNamespace.
func EventBusBroker(ref BrokerRef, class string, config *duckv1.KReference, runtimeNamespace string) eventingv1.Broker {
	b := Broker(ref.Namespace, ref.Name, class, config)
	b.Labels[LabelComponent] = "eventbus"
	dls := DeadLetterSink(ref.Namespace, runtimeNamespace)
	b.Spec.Delivery.DeadLetterSink = &dls
	return b
}

// WithDeliveryDefaults gives a declared Broker that sets no delivery
// zeroflow's (EventBusBroker's): without retries a sensor's at-least-once
// delivery fails on the first cold start, and without a dead-letter sink
// what fails is dropped. A Broker that sets a delivery keeps it as
// written.
func WithDeliveryDefaults(b eventingv1.Broker, runtimeNamespace string) eventingv1.Broker {
	if b.Spec.Delivery != nil {
		return b
	}
	b = *b.DeepCopy()
	delivery := BrokerDelivery()
	dls := DeadLetterSink(b.Namespace, runtimeNamespace)
	delivery.DeadLetterSink = &dls
	b.Spec.Delivery = delivery
	return b
}

// EventBusBrokers are the Brokers in's objects name (EventBuses) that
// declared does not hold, made by EventBusBroker; the runtime's own
// Broker (namespace/broker) is left out, since manifests/broker installs
// it.
func EventBusBrokers(in Input, namespace, broker, class string, config *duckv1.KReference, declared []eventingv1.Broker) []eventingv1.Broker {
	have := map[BrokerRef]bool{{namespace, broker}: true}
	for _, b := range declared {
		have[BrokerRef{b.Namespace, b.Name}] = true
	}
	var out []eventingv1.Broker
	for _, ref := range in.EventBuses(namespace, broker) {
		if !have[ref] {
			out = append(out, EventBusBroker(ref, class, config, namespace))
		}
	}
	return out
}
