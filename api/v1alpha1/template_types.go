package v1alpha1

// Template is one unit of work: a leaf that a function runs (function,
// container, script, http, resource), a pause (suspend), or a composition
// that the controller runs itself (dag, steps). Exactly one kind is set.
//
// +kubebuilder:validation:XValidation:rule="[has(self.dag), has(self.steps), has(self.function), has(self.container), has(self.script), has(self.http), has(self.resource), has(self.suspend)].filter(x, x).size() == 1",message="exactly one of dag, steps, function, container, script, http, resource or suspend must be set"
type Template struct {
	// Name is how tasks, steps and the entrypoint refer to this template.
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][-a-zA-Z0-9_]*$`
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name"`

	// Inputs are the parameters and artifacts this template takes.
	// +optional
	Inputs Inputs `json:"inputs,omitempty"`

	// Outputs are the parameters and artifacts this template produces.
	// +optional
	Outputs Outputs `json:"outputs,omitempty"`

	// +optional
	DAG *DAGTemplate `json:"dag,omitempty"`
	// Steps are groups run one after another; the steps of a group run in parallel.
	// +optional
	Steps [][]WorkflowStep `json:"steps,omitempty"`
	// +optional
	Function *FunctionTemplate `json:"function,omitempty"`
	// +optional
	Container *ContainerTemplate `json:"container,omitempty"`
	// +optional
	Script *ScriptTemplate `json:"script,omitempty"`
	// +optional
	HTTP *HTTPTemplate `json:"http,omitempty"`
	// +optional
	Resource *ResourceTemplate `json:"resource,omitempty"`
	// +optional
	Suspend *SuspendTemplate `json:"suspend,omitempty"`

	// RetryStrategy retries a failed leaf (or a whole dag or steps).
	// +optional
	RetryStrategy *RetryStrategy `json:"retryStrategy,omitempty"`

	// Timeout bounds each attempt of a leaf, from dispatch to result, as a
	// duration with a unit ("30s", "5m"). It has no effect on dag and steps.
	// +optional
	Timeout string `json:"timeout,omitempty"`

	// FailFast stops starting loop items of this dag or steps template once
	// one of its children failed.
	// +optional
	FailFast *bool `json:"failFast,omitempty"`

	// Parallelism limits how many direct children of this dag or steps
	// template run at once; loop items count one each.
	// +optional
	// +kubebuilder:validation:Minimum=1
	Parallelism *int64 `json:"parallelism,omitempty"`

	// ServiceAccountName is the identity this template's steps act with,
	// instead of the workflow's spec.serviceAccountName (Argo's field).
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
}

// FunctionTemplate runs a user function: a Knative Service that receives a
// dev.zeroflow.step.run CloudEvent and replies with dev.zeroflow.step.result.
type FunctionTemplate struct {
	// Name of the function (its Knative Service). The step.run event carries
	// it in the zffunction extension, which the function's Trigger matches.
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// Payload is sent as the event's payload, after substitution. Inputs are
	// always sent as well.
	// +optional
	Payload string `json:"payload,omitempty"`
}

// EnvVar is an environment variable for container and script templates.
type EnvVar struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +optional
	Value string `json:"value,omitempty"`
}

// ContainerTemplate runs a command. The built-in exec function runs it as a
// subprocess in `zeroflow dev` and in the exec runner image on a cluster;
// image is used only on a cluster.
type ContainerTemplate struct {
	// +optional
	Image string `json:"image,omitempty"`
	// +optional
	Command []string `json:"command,omitempty"`
	// +optional
	Args []string `json:"args,omitempty"`
	// +optional
	Env []EnvVar `json:"env,omitempty"`
	// +optional
	WorkingDir string `json:"workingDir,omitempty"`
}

// ScriptTemplate runs source with command as its interpreter
// (e.g. command: [python3]); stdout becomes outputs.result.
type ScriptTemplate struct {
	ContainerTemplate `json:",inline"`
	// Source is the script, written to a file whose path is appended to command.
	Source string `json:"source"`
}

// HTTPHeader is a request header of an http template.
type HTTPHeader struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +optional
	Value string `json:"value,omitempty"`
	// ValueFrom reads the value from a secret.
	// +optional
	ValueFrom *HTTPHeaderSource `json:"valueFrom,omitempty"`
}

// HTTPHeaderSource names where a header value comes from.
type HTTPHeaderSource struct {
	// +optional
	SecretKeyRef *SecretKeySelector `json:"secretKeyRef,omitempty"`
}

// SecretKeySelector names a key of a Secret. In `zeroflow dev` secrets are
// read from local files or the environment (there is no Secret API).
type SecretKeySelector struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// HTTPTemplate makes an HTTP request with the built-in http function.
// The response body becomes outputs.result.
type HTTPTemplate struct {
	// +optional
	// +kubebuilder:validation:Enum=GET;POST;PUT;PATCH;DELETE;HEAD;OPTIONS
	Method string `json:"method,omitempty"`
	// +kubebuilder:validation:MinLength=1
	URL string `json:"url"`
	// +optional
	Headers []HTTPHeader `json:"headers,omitempty"`
	// +optional
	Body string `json:"body,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=1
	TimeoutSeconds *int64 `json:"timeoutSeconds,omitempty"`
	// SuccessCondition is an expression over response.statusCode,
	// response.body and response.headers. Default: a 2xx status.
	// +optional
	SuccessCondition string `json:"successCondition,omitempty"`
	// +optional
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
}

// ResourceTemplate acts on any Kubernetes object with the built-in resource function.
type ResourceTemplate struct {
	// +kubebuilder:validation:Enum=get;create;apply;delete;replace;patch
	Action string `json:"action"`
	// MergeStrategy for patch: strategic, merge or json.
	// +optional
	// +kubebuilder:validation:Enum=strategic;merge;json
	MergeStrategy string `json:"mergeStrategy,omitempty"`
	// Manifest is the object, as YAML or JSON.
	// +optional
	Manifest string `json:"manifest,omitempty"`
	// SuccessCondition, e.g. "status.phase == Succeeded", is waited for.
	// +optional
	SuccessCondition string `json:"successCondition,omitempty"`
	// FailureCondition fails the step as soon as it holds.
	// +optional
	FailureCondition string `json:"failureCondition,omitempty"`
	// SetOwnerReference makes the workflow the object's owner.
	// +optional
	SetOwnerReference bool `json:"setOwnerReference,omitempty"`
	// Flags are Argo's kubectl flags. zeroflow runs no kubectl; it honours
	// --ignore-not-found (a delete of a missing object succeeds), and lint
	// rejects the others rather than ignore them.
	// +optional
	Flags []string `json:"flags,omitempty"`
}

// SuspendTemplate pauses until resumed, or for a duration.
type SuspendTemplate struct {
	// Duration is seconds ("20") or a duration with a unit ("2m"). Empty
	// waits for `zeroflow resume`.
	// +optional
	Duration string `json:"duration,omitempty"`
}

// IsLeaf reports whether a function runs the template (as opposed to the
// controller itself).
func (t *Template) IsLeaf() bool {
	return t.Function != nil || t.Container != nil || t.Script != nil || t.HTTP != nil || t.Resource != nil
}
