package v1alpha1

// ServiceTemplate is the part of Argo's pod template (spec.template of an
// EventSource or Sensor) that means something for a Knative Service.
type ServiceTemplate struct {
	// ServiceAccountName is the identity the function runs as; a sensor
	// with a k8s or workflow trigger needs one allowed to act on the
	// objects it touches.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
}
