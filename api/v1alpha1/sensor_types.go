package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// Sensor waits for events (its dependencies), checks them against filters
// and conditions, and fires triggers, as an Argo Events Sensor does. Its
// partial condition state is kept in its status, so that it survives
// scaling to zero and shows which dependencies are satisfied.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sn,categories=zeroflow
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Sensor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SensorSpec   `json:"spec"`
	Status SensorStatus `json:"status,omitempty"`
}

// SensorList is a list of Sensors.
//
// +kubebuilder:object:root=true
type SensorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Sensor `json:"items"`
}

// SensorSpec is what a sensor waits for and what it does.
type SensorSpec struct {
	// Dependencies are the events the sensor waits for.
	// +kubebuilder:validation:MinItems=1
	// +listType=map
	// +listMapKey=name
	Dependencies []EventDependency `json:"dependencies"`
	// Triggers are what it does.
	// +kubebuilder:validation:MinItems=1
	Triggers []Trigger `json:"triggers"`
	// EventBusName is the broker the sensor reads from and sends to.
	// Default "default".
	// +optional
	EventBusName string `json:"eventBusName,omitempty"`
	// LoggingFields are added to every log line of the sensor.
	// +optional
	LoggingFields map[string]string `json:"loggingFields,omitempty"`
	// Template holds settings of the sensor's function.
	// +optional
	Template *ServiceTemplate `json:"template,omitempty"`
	// Replicas is accepted for Argo compatibility and ignored: Knative
	// scales the sensor from zero with its load.
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`
}

// BrokerName is the broker the sensor uses.
func (s *SensorSpec) BrokerName() string {
	if s.EventBusName == "" {
		return "default"
	}
	return s.EventBusName
}

// LogicalOperator combines filters.
//
// +kubebuilder:validation:Enum=and;or;""
type LogicalOperator string

// Logical operators; empty means and.
const (
	And LogicalOperator = "and"
	Or  LogicalOperator = "or"
)

// EventDependency is one event the sensor waits for: events whose source
// is EventSourceName and whose subject is EventName, that pass Filters.
type EventDependency struct {
	// Name is how conditions and parameters refer to the dependency.
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][-a-zA-Z0-9_]*$`
	Name string `json:"name"`
	// EventSourceName is the EventSource (the CloudEvent source).
	// +kubebuilder:validation:MinLength=1
	EventSourceName string `json:"eventSourceName"`
	// EventName is the event of that source (the CloudEvent subject).
	// +kubebuilder:validation:MinLength=1
	EventName string `json:"eventName"`
	// +optional
	Filters *EventDependencyFilter `json:"filters,omitempty"`
	// FiltersLogicalOperator combines the filter groups; default and.
	// +optional
	FiltersLogicalOperator LogicalOperator `json:"filtersLogicalOperator,omitempty"`
}

// EventDependencyFilter holds the filter groups of a dependency. A group
// that is not set does not constrain.
type EventDependencyFilter struct {
	// Time passes events whose time is in a daily window.
	// +optional
	Time *TimeFilter `json:"time,omitempty"`
	// Context matches CloudEvent attributes exactly.
	// +optional
	Context *EventContext `json:"context,omitempty"`
	// Data matches values in the event's JSON data.
	// +optional
	Data []DataFilter `json:"data,omitempty"`
	// Exprs are expressions over values taken from the data.
	// +optional
	Exprs []ExprFilter `json:"exprs,omitempty"`
	// DataLogicalOperator combines the data filters; default and.
	// +optional
	DataLogicalOperator LogicalOperator `json:"dataLogicalOperator,omitempty"`
	// ExprLogicalOperator combines the expr filters; default and.
	// +optional
	ExprLogicalOperator LogicalOperator `json:"exprLogicalOperator,omitempty"`
}

// TimeFilter passes events whose time of day is in [Start, Stop). A Stop
// not after Start wraps past midnight.
type TimeFilter struct {
	// Start is "HH:MM:SS".
	Start string `json:"start"`
	// Stop is "HH:MM:SS".
	Stop string `json:"stop"`
	// Timezone, e.g. Europe/Berlin; default UTC.
	// +optional
	Timezone string `json:"timezone,omitempty"`
}

// EventContext matches CloudEvent attributes; empty fields match anything.
type EventContext struct {
	// +optional
	Type string `json:"type,omitempty"`
	// +optional
	Subject string `json:"subject,omitempty"`
	// +optional
	Source string `json:"source,omitempty"`
	// +optional
	DataContentType string `json:"datacontenttype,omitempty"`
}

// JSONType is the type a data filter compares as.
//
// +kubebuilder:validation:Enum=string;number;bool
type JSONType string

// JSON types of data filters.
const (
	JSONTypeString JSONType = "string"
	JSONTypeNumber JSONType = "number"
	JSONTypeBool   JSONType = "bool"
)

// Comparator compares a data filter's value.
//
// +kubebuilder:validation:Enum=">=";">";"=";"!=";"<";"<=";""
type Comparator string

// DataFilter matches the value at Path against Value (any of them).
type DataFilter struct {
	// Path is a gjson path into the data, e.g. body.action.
	// +kubebuilder:validation:MinLength=1
	Path string   `json:"path"`
	Type JSONType `json:"type"`
	// Value lists accepted values; any one matching is enough. For
	// strings each is a regular expression, not anchored.
	// +kubebuilder:validation:MinItems=1
	Value []string `json:"value"`
	// Comparator for numbers (>=, >, =, !=, <, <=) and strings (=, !=);
	// default =.
	// +optional
	Comparator Comparator `json:"comparator,omitempty"`
	// Template is a Go template applied to the value (as .Input) before
	// comparing.
	// +optional
	Template string `json:"template,omitempty"`
}

// ExprFilter is a boolean expression over values taken from the data.
type ExprFilter struct {
	// Expr is an expression, e.g. `action == "opened" && count > 3`.
	// +kubebuilder:validation:MinLength=1
	Expr string `json:"expr"`
	// Fields bind names in Expr to paths into the data.
	// +kubebuilder:validation:MinItems=1
	Fields []PayloadField `json:"fields"`
}

// PayloadField binds a name to a gjson path.
type PayloadField struct {
	// +kubebuilder:validation:MinLength=1
	Path string `json:"path"`
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// Trigger is something a sensor does.
type Trigger struct {
	Template *TriggerTemplate `json:"template"`
	// Parameters are applied to the template before it runs.
	// +optional
	Parameters []TriggerParameter `json:"parameters,omitempty"`
	// +optional
	Policy *TriggerPolicy `json:"policy,omitempty"`
	// RetryStrategy retries a failed trigger.
	// +optional
	RetryStrategy *EventBackoff `json:"retryStrategy,omitempty"`
	// RateLimit spaces executions of the trigger; it delays, never drops.
	// +optional
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
	// AtLeastOnce, by default true here (false in Argo), makes the sensor
	// answer its event only after the trigger ran or failed for good, so
	// that a failure is retried.
	// +optional
	AtLeastOnce *bool `json:"atLeastOnce,omitempty"`
	// DLQTrigger runs, with the same events, when the trigger failed for good.
	// +optional
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	DLQTrigger *Trigger `json:"dlqTrigger,omitempty"`
}

// IsAtLeastOnce reports whether the trigger runs at least once.
func (t *Trigger) IsAtLeastOnce() bool { return t.AtLeastOnce == nil || *t.AtLeastOnce }

// TriggerTemplate is a trigger's conditions and kind; exactly one kind is set.
type TriggerTemplate struct {
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][-a-zA-Z0-9_]*$`
	Name string `json:"name"`
	// Conditions is a boolean expression over dependency names, e.g.
	// "(a || b) && c". Default: every dependency, ANDed.
	// +optional
	Conditions string `json:"conditions,omitempty"`
	// ConditionsReset clears the partial state on a schedule.
	// +optional
	ConditionsReset []ConditionsResetCriteria `json:"conditionsReset,omitempty"`

	// Workflow submits or controls a zeroflow Workflow.
	// +optional
	Workflow *WorkflowTrigger `json:"workflow,omitempty"`
	// ArgoWorkflow is Argo's name for Workflow, accepted so that Argo
	// sensors port unchanged; set one of the two.
	// +optional
	ArgoWorkflow *WorkflowTrigger `json:"argoWorkflow,omitempty"`
	// K8s creates, updates, patches or deletes any object.
	// +optional
	K8s *K8sTrigger `json:"k8s,omitempty"`
	// HTTP makes a request.
	// +optional
	HTTP *HTTPTrigger `json:"http,omitempty"`
	// Log logs the events.
	// +optional
	Log *LogTrigger `json:"log,omitempty"`
	// CloudEvent sends a CloudEvent to the broker or a URL.
	// +optional
	CloudEvent *CloudEventTrigger `json:"cloudEvent,omitempty"`
	// Slack posts to a Slack incoming webhook.
	// +optional
	Slack *SlackTrigger `json:"slack,omitempty"`
}

// WorkflowTrigger returns the workflow trigger under either of its names.
func (t *TriggerTemplate) WorkflowTrigger() *WorkflowTrigger {
	if t.Workflow != nil {
		return t.Workflow
	}
	return t.ArgoWorkflow
}

// ConditionsResetCriteria is when the partial state is cleared.
type ConditionsResetCriteria struct {
	ByTime *ConditionsResetByTime `json:"byTime,omitempty"`
}

// ConditionsResetByTime clears the state at the times of a cron schedule.
type ConditionsResetByTime struct {
	// Cron has 5 fields: minute hour day-of-month month day-of-week.
	Cron string `json:"cron"`
	// Timezone of the schedule; default UTC.
	// +optional
	Timezone string `json:"timezone,omitempty"`
}

// ArtifactLocation is where a trigger's object comes from.
type ArtifactLocation struct {
	// Resource is the object, inline.
	// +optional
	Resource *apiextensionsv1.JSON `json:"resource,omitempty"`
	// Inline is the object as a YAML or JSON string.
	// +optional
	Inline string `json:"inline,omitempty"`
}

// WorkflowOperation is what a workflow trigger does.
//
// +kubebuilder:validation:Enum=submit;suspend;resume;stop;terminate;""
type WorkflowOperation string

// Workflow trigger operations.
const (
	WorkflowSubmit    WorkflowOperation = "submit"
	WorkflowSuspend   WorkflowOperation = "suspend"
	WorkflowResume    WorkflowOperation = "resume"
	WorkflowStop      WorkflowOperation = "stop"
	WorkflowTerminate WorkflowOperation = "terminate"
)

// WorkflowTrigger submits a Workflow (the controller creates it) or changes
// one.
type WorkflowTrigger struct {
	// Operation defaults to submit.
	// +optional
	Operation WorkflowOperation `json:"operation,omitempty"`
	Source    *ArtifactLocation `json:"source"`
	// Parameters are applied to the Workflow object.
	// +optional
	Parameters []TriggerParameter `json:"parameters,omitempty"`
}

// K8sOperation is what a k8s trigger does.
//
// +kubebuilder:validation:Enum=create;update;patch;delete;""
type K8sOperation string

// k8s trigger operations.
const (
	K8sCreate K8sOperation = "create"
	K8sUpdate K8sOperation = "update"
	K8sPatch  K8sOperation = "patch"
	K8sDelete K8sOperation = "delete"
)

// K8sTrigger acts on any Kubernetes object.
type K8sTrigger struct {
	// Operation defaults to create.
	// +optional
	Operation K8sOperation      `json:"operation,omitempty"`
	Source    *ArtifactLocation `json:"source"`
	// Parameters are applied to the object.
	// +optional
	Parameters []TriggerParameter `json:"parameters,omitempty"`
	// PatchStrategy for patch: application/merge-patch+json (default),
	// application/json-patch+json or application/strategic-merge-patch+json.
	// +optional
	PatchStrategy string `json:"patchStrategy,omitempty"`
	// LiveObject, for update, starts from the object as it is now.
	// +optional
	LiveObject bool `json:"liveObject,omitempty"`
}

// HTTPTrigger makes an HTTP request.
type HTTPTrigger struct {
	// +kubebuilder:validation:MinLength=1
	URL string `json:"url"`
	// Method defaults to POST.
	// +optional
	Method string `json:"method,omitempty"`
	// Payload builds the JSON body from parameters (an empty dest is the
	// whole body).
	// +optional
	Payload []TriggerParameter `json:"payload,omitempty"`
	// Headers are set as given.
	// +optional
	Headers map[string]string `json:"headers,omitempty"`
	// SecureHeaders take their values from secrets.
	// +optional
	SecureHeaders []SecureHeader `json:"secureHeaders,omitempty"`
	// +optional
	BasicAuth *BasicAuth `json:"basicAuth,omitempty"`
	// Timeout in seconds; default 60.
	// +optional
	Timeout int64 `json:"timeout,omitempty"`
	// Parameters are applied to this HTTPTrigger (e.g. dest: url).
	// +optional
	Parameters []TriggerParameter `json:"parameters,omitempty"`
}

// SecureHeader is a header whose value is in a secret.
type SecureHeader struct {
	Name      string       `json:"name"`
	ValueFrom *ValueSource `json:"valueFrom"`
}

// ValueSource is a secret's key.
type ValueSource struct {
	SecretKeyRef *SecretKeySelector `json:"secretKeyRef,omitempty"`
}

// BasicAuth is HTTP basic authentication from secrets.
type BasicAuth struct {
	Username *SecretKeySelector `json:"username"`
	Password *SecretKeySelector `json:"password"`
}

// LogTrigger logs the events that fired it.
type LogTrigger struct {
	// IntervalSeconds logs at most once per interval.
	// +optional
	IntervalSeconds uint64 `json:"intervalSeconds,omitempty"`
}

// CloudEventTrigger sends a CloudEvent.
type CloudEventTrigger struct {
	// Type of the event.
	// +kubebuilder:validation:MinLength=1
	Type string `json:"type"`
	// Source of the event; default /zeroflow/sensor/<namespace>/<sensor>.
	// +optional
	Source string `json:"source,omitempty"`
	// Subject of the event.
	// +optional
	Subject string `json:"subject,omitempty"`
	// URL, when set, receives the event; else the sensor's broker does.
	// +optional
	URL string `json:"url,omitempty"`
	// Payload builds the JSON data from parameters; empty sends the data of
	// the first event that fired the trigger.
	// +optional
	Payload []TriggerParameter `json:"payload,omitempty"`
	// Extensions are set on the event.
	// +optional
	Extensions map[string]string `json:"extensions,omitempty"`
}

// SlackTrigger posts to a Slack incoming webhook.
type SlackTrigger struct {
	// WebhookURL is the incoming webhook's URL, from a secret.
	WebhookURL *SecretKeySelector `json:"webhookURL"`
	// +optional
	Message string `json:"message,omitempty"`
	// Blocks is a JSON array of Slack blocks.
	// +optional
	Blocks string `json:"blocks,omitempty"`
	// Attachments is a JSON array of Slack attachments.
	// +optional
	Attachments string `json:"attachments,omitempty"`
	// Parameters are applied to this SlackTrigger (e.g. dest: message).
	// +optional
	Parameters []TriggerParameter `json:"parameters,omitempty"`
}

// TriggerParameter sets Dest from Src.
type TriggerParameter struct {
	Src *TriggerParameterSource `json:"src"`
	// Dest is an sjson path into the target, e.g.
	// spec.arguments.parameters.0.value.
	// +optional
	Dest string `json:"dest,omitempty"`
	// Operation is overwrite (default), append or prepend.
	// +optional
	// +kubebuilder:validation:Enum=overwrite;append;prepend;""
	Operation string `json:"operation,omitempty"`
}

// TriggerParameterSource is where a parameter's value comes from: an
// event of a dependency (data over context; template over key), else Value.
type TriggerParameterSource struct {
	DependencyName string `json:"dependencyName"`
	// +optional
	ContextKey string `json:"contextKey,omitempty"`
	// +optional
	ContextTemplate string `json:"contextTemplate,omitempty"`
	// +optional
	DataKey string `json:"dataKey,omitempty"`
	// +optional
	DataTemplate string `json:"dataTemplate,omitempty"`
	// Value is the default.
	// +optional
	Value *string `json:"value,omitempty"`
	// UseRawData inserts JSON values (numbers, objects) as JSON, not text.
	// +optional
	UseRawData bool `json:"useRawData,omitempty"`
}

// TriggerPolicy decides when a trigger counts as successful.
type TriggerPolicy struct {
	// +optional
	Status *StatusPolicy `json:"status,omitempty"`
}

// StatusPolicy lists the HTTP statuses that count as success.
type StatusPolicy struct {
	Allow []int32 `json:"allow"`
}

// EventBackoff is Argo Events' retry strategy. A trigger without one runs
// once, as in Argo.
type EventBackoff struct {
	// Steps is the number of attempts; default 5.
	// +optional
	Steps int32 `json:"steps,omitempty"`
	// Duration is the first wait: a Go duration like "1s", or, as in
	// Argo, an integer number of nanoseconds; default 1s.
	// +optional
	Duration *AnyString `json:"duration,omitempty"`
	// Factor multiplies the wait after each attempt; default 1.
	// +optional
	Factor *AnyString `json:"factor,omitempty"`
	// Jitter adds up to jitter×wait at random; default 1.
	// +optional
	Jitter *AnyString `json:"jitter,omitempty"`
}

// RateLimit spaces a trigger's executions.
type RateLimit struct {
	// Unit is Second (default), Minute or Hour.
	// +optional
	// +kubebuilder:validation:Enum=Second;Minute;Hour;""
	Unit string `json:"unit,omitempty"`
	// +kubebuilder:validation:Minimum=1
	RequestsPerUnit int32 `json:"requestsPerUnit"`
}

// SensorStatus shows what a sensor waits for.
type SensorStatus struct {
	duckv1.Status `json:",inline"`
	// Triggers holds the partial condition state of each trigger whose
	// conditions need several events.
	// +optional
	// +listType=map
	// +listMapKey=name
	Triggers []TriggerStatus `json:"triggers,omitempty"`
}

// TriggerStatus is one trigger's partial state.
type TriggerStatus struct {
	Name string `json:"name"`
	// Dependencies are the satisfied dependencies, with the latest event
	// of each.
	// +optional
	// +listType=map
	// +listMapKey=name
	Dependencies []DependencyStatus `json:"dependencies,omitempty"`
	// Pending are firings claimed but not yet done: their conditions held,
	// and the trigger is running or failed and waits for the broker to
	// deliver one of their events again.
	// +optional
	Pending []FiringStatus `json:"pending,omitempty"`
	// LastFiredAt is when the trigger last ran successfully.
	// +optional
	LastFiredAt *metav1.Time `json:"lastFiredAt,omitempty"`
	// LastResetAt is when conditionsReset last cleared the state.
	// +optional
	LastResetAt *metav1.Time `json:"lastResetAt,omitempty"`
	// RecentEvents are keys of the events the latest firings consumed, so
	// that an event delivered again does not fire the trigger twice.
	// +optional
	RecentEvents []string `json:"recentEvents,omitempty"`
}

// FiringStatus is a firing: the events that satisfied the conditions.
type FiringStatus struct {
	// Key identifies the set of events; what the firing makes is named
	// after it.
	Key string `json:"key"`
	// ClaimedAt is when the conditions held.
	ClaimedAt metav1.Time `json:"claimedAt"`
	// +listType=map
	// +listMapKey=name
	Dependencies []DependencyStatus `json:"dependencies"`
}

// DependencyStatus is a satisfied dependency.
type DependencyStatus struct {
	Name string `json:"name"`
	// SatisfiedAt is when its latest event arrived.
	SatisfiedAt metav1.Time `json:"satisfiedAt"`
	// EventID is that event's id.
	EventID string `json:"eventID"`
	// EventKey identifies the event (a hash of its source and id).
	EventKey string `json:"eventKey"`
	// Event is that event, as structured CloudEvent JSON.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Event apiextensionsv1.JSON `json:"event"`
}
