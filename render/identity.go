package render

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"knative.dev/eventing/pkg/auth"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/zeroflow-dev/zeroflow/internal/identity"
)

// Sender identity, the Knative way (authentication-oidc): every request
// on the event plane carries a JWT whose audience names its receiver and
// whose subject names its sender. These are the names both runtimes use,
// so that one set of EventPolicy objects means the same on a cluster and
// in `zeroflow dev`.

// Environment of a function, for its identity.
const (
	// EnvAudience is the audience a request to the function must carry.
	EnvAudience = identity.EnvAudience
	// EnvAllowedSubjects lists, comma-separated, the subjects that may
	// call the function (a trailing * matches a prefix, as in
	// EventPolicies).
	EnvAllowedSubjects = identity.EnvAllowedSubjects
	// EnvTokenFile is the function's own token for the broker (a
	// projected ServiceAccount token on a cluster), re-read as it rotates.
	EnvTokenFile = identity.EnvTokenFile
	// EnvIssuer is the issuer whose tokens the function accepts; its keys
	// come from EnvJWKSFile when set, else from the issuer's discovery.
	EnvIssuer   = identity.EnvIssuer
	EnvJWKSFile = identity.EnvJWKSFile
)

// TokenMountPath is where a function's broker token is mounted.
const TokenMountPath = "/var/run/secrets/zeroflow.dev/oidc"

var (
	brokerGVK         = eventingv1.SchemeGroupVersion.WithKind("Broker")
	triggerGVK        = eventingv1.SchemeGroupVersion.WithKind("Trigger")
	serviceGVK        = servingv1.SchemeGroupVersion.WithKind("Service")
	pingSourceGVK     = sourcesv1.SchemeGroupVersion.WithKind("PingSource")
	apiServerSourceGV = sourcesv1.SchemeGroupVersion.WithKind("ApiServerSource")
	coreServiceGVK    = schema.GroupVersionKind{Version: "v1", Kind: "Service"}
)

// BrokerAudience is the audience of a Broker's ingress, as Knative sets it.
func BrokerAudience(namespace, name string) string {
	return auth.GetAudienceDirect(brokerGVK, namespace, name)
}

// ServiceAudience is the audience of a function's Knative Service.
func ServiceAudience(namespace, name string) string {
	return auth.GetAudienceDirect(serviceGVK, namespace, name)
}

// ControllerAudience is the audience of the controller's Service.
func ControllerAudience(namespace string) string {
	return auth.GetAudienceDirect(coreServiceGVK, namespace, ControllerService)
}

// TriggerSubject is the identity a Trigger delivers (and sends replies)
// with: its OIDC ServiceAccount, named as Knative names it.
func TriggerSubject(namespace, name string) string {
	return oidcSubject(triggerGVK, namespace, name)
}

// PingSourceSubject is the identity a PingSource sends with.
func PingSourceSubject(namespace, name string) string {
	return oidcSubject(pingSourceGVK, namespace, name)
}

// ApiServerSourceSubject is the identity an ApiServerSource sends with.
func ApiServerSourceSubject(namespace, name string) string {
	return oidcSubject(apiServerSourceGV, namespace, name)
}

func oidcSubject(gvk schema.GroupVersionKind, namespace, name string) string {
	return identity.ResourceSubject(gvk, namespace, name)
}

// Service accounts of zeroflow's own functions.
const (
	EventSourceServiceAccount = "zeroflow-eventsource"
	FilterServiceAccount      = "zeroflow-filter"
	SensorServiceAccount      = "zeroflow-sensor"
	ControllerServiceAccount  = "zeroflow-controller"
)
