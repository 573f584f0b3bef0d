package render

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// Broker classes zeroflow ships configurations for.
const (
	// ClassKafka is Knative's Apache Kafka broker: durable, for production.
	ClassKafka = "Kafka"
	// ClassMTChannel is Knative's channel-based broker, for dev clusters.
	ClassMTChannel = "MTChannelBasedBroker"
	// AnnotationBrokerClass selects a Broker's implementation.
	AnnotationBrokerClass = "eventing.knative.dev/broker.class"
)

// BrokerDelivery is the delivery every zeroflow Broker has: 5 retries with
// exponential backoff from 0.5 s (about 15 s in all, enough for a function
// to start from zero several times), then the dead-letter function, which
// stores the event.
func BrokerDelivery() *eventingduckv1.DeliverySpec {
	retry := int32(5)
	policy := eventingduckv1.BackoffPolicyExponential
	delay := "PT0.5S"
	dls := serviceDestination(BuiltinService(DeadLetterFunction), "")
	return &eventingduckv1.DeliverySpec{Retry: &retry, BackoffPolicy: &policy, BackoffDelay: &delay, DeadLetterSink: &dls}
}

// Broker is a Broker of class with zeroflow's delivery, its dead letters
// sent with the dead-letter function's audience; config, when set, names
// the class's configuration (the Kafka broker's ConfigMap).
func Broker(namespace, name, class string, config *duckv1.KReference) eventingv1.Broker {
	delivery := BrokerDelivery()
	dls := withAudience(namespace, *delivery.DeadLetterSink)
	delivery.DeadLetterSink = &dls
	return eventingv1.Broker{
		TypeMeta: metav1.TypeMeta{APIVersion: eventingv1.SchemeGroupVersion.String(), Kind: "Broker"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: namespace,
			Labels:      withPartOf(nil),
			Annotations: map[string]string{AnnotationBrokerClass: class},
		},
		Spec: eventingv1.BrokerSpec{Config: config, Delivery: delivery},
	}
}
