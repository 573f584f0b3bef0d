package v1alpha1

// ResourceEventSource is one resource event, with Argo's fields: changes to
// objects of one kind. On Knative it is an ApiServerSource in Resource mode
// (zeroflow render); zeroflow dev watches the objects itself. The event's
// data is the object.
type ResourceEventSource struct {
	// Namespace to watch; default the EventSource's.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Group, Version and Resource name what to watch, as in Argo.
	// +optional
	Group   string `json:"group,omitempty"`
	Version string `json:"version"`
	// Resource is the plural name, e.g. "pods" (Argo's field).
	Resource string `json:"resource"`
	// Kind, e.g. "Pod": an ApiServerSource watches a kind, so zeroflow
	// needs it too (Argo does not have it).
	Kind string `json:"kind"`
	// EventTypes must be empty or all of ADD, UPDATE and DELETE: an
	// ApiServerSource sends all three (filter on the CloudEvent type,
	// dev.knative.apiserver.resource.add|update|delete, in the sensor).
	// +optional
	EventTypes []string `json:"eventTypes,omitempty"`
	// Filter selects the objects.
	// +optional
	Filter *ResourceFilter `json:"filter,omitempty"`
	// ServiceAccountName is the identity the ApiServerSource watches with;
	// it needs get, list and watch on the resource. Default
	// zeroflow-eventsource.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
}

// ResourceFilter selects objects; only labels are supported (an
// ApiServerSource selects by labels).
type ResourceFilter struct {
	// Labels the objects must match.
	// +optional
	Labels []Selector `json:"labels,omitempty"`
	// Prefix, Fields, CreatedBy and AfterStart are Argo's and are rejected
	// with a message: an ApiServerSource cannot do them.
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// +optional
	Fields []Selector `json:"fields,omitempty"`
	// +optional
	CreatedBy string `json:"createdBy,omitempty"`
	// +optional
	AfterStart bool `json:"afterStart,omitempty"`
}

// Selector is a label requirement, Argo's shape.
type Selector struct {
	Key string `json:"key"`
	// Operation is one of ==, =, !=, in, notin, exists, !; default ==.
	// +optional
	Operation string `json:"operation,omitempty"`
	// +optional
	Value string `json:"value,omitempty"`
}
