package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// EventSource turns outside events into CloudEvents on a broker. Each
// entry of a source map is one event; its key is the event name (the
// CloudEvent subject), as in Argo Events.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=es,categories=zeroflow
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type EventSource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   EventSourceSpec   `json:"spec"`
	Status EventSourceStatus `json:"status,omitempty"`
}

// EventSourceList is a list of EventSources.
//
// +kubebuilder:object:root=true
type EventSourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EventSource `json:"items"`
}

// EventSourceSpec lists an EventSource's events by kind.
type EventSourceSpec struct {
	// EventBusName is the broker the events go to (Argo's event bus).
	// Default "default".
	// +optional
	EventBusName string `json:"eventBusName,omitempty"`

	// Webhook events: HTTP requests on an endpoint.
	// +optional
	Webhook map[string]WebhookEventSource `json:"webhook,omitempty"`
	// Calendar events: on a schedule or at an interval. On Knative each is
	// a PingSource (zeroflow render); zeroflow dev runs the same locally.
	// +optional
	Calendar map[string]CalendarEventSource `json:"calendar,omitempty"`
	// Resource events: changes to Kubernetes objects. On Knative each is an
	// ApiServerSource.
	// +optional
	Resource map[string]ResourceEventSource `json:"resource,omitempty"`
	// Template holds settings of the source's function.
	// +optional
	Template *ServiceTemplate `json:"template,omitempty"`
	// Replicas is accepted for Argo compatibility and ignored: Knative
	// scales the source from zero with its load.
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`
}

// BrokerName is the broker the events go to.
func (s *EventSourceSpec) BrokerName() string {
	if s.EventBusName == "" {
		return "default"
	}
	return s.EventBusName
}

// EventSourceStatus is the observed state of an EventSource.
type EventSourceStatus struct {
	duckv1.Status `json:",inline"`
}

// WebhookEventSource is one webhook event.
type WebhookEventSource struct {
	WebhookContext `json:",inline"`
	// Filter drops requests its expression does not accept (the caller
	// still gets 200, as in Argo).
	// +optional
	Filter *EventSourceFilter `json:"filter,omitempty"`
}

// WebhookContext is where and how a webhook listens.
type WebhookContext struct {
	// Endpoint is the request path, e.g. /workflow-a.
	// +kubebuilder:validation:Pattern=`^/`
	Endpoint string `json:"endpoint"`
	// Method is the HTTP method accepted: GET, POST, PUT, PATCH or DELETE.
	// +kubebuilder:validation:Enum=GET;POST;PUT;PATCH;DELETE
	Method string `json:"method"`
	// Port is where `zeroflow dev` listens for this event; events may share
	// one. On Knative every event of the EventSource is served on the
	// Service's port.
	// +kubebuilder:validation:Pattern=`^[0-9]+$`
	Port string `json:"port"`
	// URL is kept for Argo compatibility; the webhook does not use it.
	// +optional
	URL string `json:"url,omitempty"`
	// Metadata is added to every event as data.metadata.
	// +optional
	Metadata map[string]string `json:"metadata,omitempty"`
	// AuthSecret holds a token that requests must present as
	// "Authorization: Bearer <token>".
	// +optional
	AuthSecret *SecretKeySelector `json:"authSecret,omitempty"`
	// MaxPayloadSize bounds the request body in bytes; default 1048576.
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxPayloadSize *int64 `json:"maxPayloadSize,omitempty"`
	// ServerCertSecret and ServerKeySecret are accepted for Argo
	// compatibility; TLS is terminated by Knative's ingress.
	// +optional
	ServerCertSecret *SecretKeySelector `json:"serverCertSecret,omitempty"`
	// +optional
	ServerKeySecret *SecretKeySelector `json:"serverKeySecret,omitempty"`
}

// DefaultMaxWebhookPayloadSize is Argo's default body limit.
const DefaultMaxWebhookPayloadSize = 1 << 20

// MaxPayload is the body limit in force.
func (c *WebhookContext) MaxPayload() int64 {
	if c.MaxPayloadSize == nil {
		return DefaultMaxWebhookPayloadSize
	}
	return *c.MaxPayloadSize
}

// EventSourceFilter is an expression over an event's data (header, body,
// metadata); events for which it is false are dropped.
type EventSourceFilter struct {
	Expression string `json:"expression"`
}
