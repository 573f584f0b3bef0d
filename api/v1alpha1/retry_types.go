package v1alpha1

import "k8s.io/apimachinery/pkg/util/intstr"

// RetryPolicy says which failures are retried.
//
// +kubebuilder:validation:Enum=Always;OnFailure;OnError;OnTransientError
type RetryPolicy string

// Retry policies, as in Argo.
const (
	RetryAlways           RetryPolicy = "Always"
	RetryOnFailure        RetryPolicy = "OnFailure"
	RetryOnError          RetryPolicy = "OnError"
	RetryOnTransientError RetryPolicy = "OnTransientError"
)

// RetryStrategy retries a failed node.
type RetryStrategy struct {
	// Limit is the number of retries after the first attempt. Unset means no
	// limit, as in Argo.
	// +optional
	// +kubebuilder:validation:XIntOrString
	Limit *intstr.IntOrString `json:"limit,omitempty"`
	// RetryPolicy defaults to OnFailure, or to Always when only an
	// expression is given.
	// +optional
	RetryPolicy RetryPolicy `json:"retryPolicy,omitempty"`
	// +optional
	Backoff *Backoff `json:"backoff,omitempty"`
	// Expression must also hold for a retry. It sees lastRetry.exitCode,
	// lastRetry.status, lastRetry.duration, lastRetry.message and retries.
	// +optional
	Expression string `json:"expression,omitempty"`
}

// Backoff spaces retries: the wait after attempt n (1-based) is
// duration * factor^(n-1), at most cap, counted from the end of attempt n.
type Backoff struct {
	// Duration is seconds ("10") or a duration with a unit ("2m").
	// +optional
	Duration string `json:"duration,omitempty"`
	// Factor multiplies the wait after each attempt; an integer.
	// +optional
	// +kubebuilder:validation:XIntOrString
	Factor *intstr.IntOrString `json:"factor,omitempty"`
	// MaxDuration bounds the time from the first attempt's start; no retry
	// starts after it.
	// +optional
	MaxDuration string `json:"maxDuration,omitempty"`
	// Cap is the longest single wait.
	// +optional
	Cap string `json:"cap,omitempty"`
}
