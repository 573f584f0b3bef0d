package render

import (
	"bytes"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"
	sinksv1alpha1 "knative.dev/eventing/pkg/apis/sinks/v1alpha1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// Objects are rendered objects, by kind, each kind sorted by namespace and
// name.
type Objects struct {
	ServiceAccounts []corev1.ServiceAccount
	// Roles and RoleBindings are what the objects' functions may do on
	// the API (RBAC).
	Roles        []rbacv1.Role
	RoleBindings []rbacv1.RoleBinding
	ConfigMaps   []corev1.ConfigMap
	// EventPolicies say who may send what to the Brokers; each policy
	// appears once however many objects need it.
	EventPolicies []eventingv1alpha1.EventPolicy
	Brokers       []eventingv1.Broker
	Services      []servingv1.Service
	SinkBindings  []sourcesv1.SinkBinding
	// JobSinks run long container and script steps as Jobs
	// (Options.ExecJobs).
	JobSinks    []sinksv1alpha1.JobSink
	Triggers    []eventingv1.Trigger
	PingSources []sourcesv1.PingSource
	// ApiServerSources are written with a capital A, as Knative names the
	// type.
	ApiServerSources []sourcesv1.ApiServerSource
}

// Add appends other's objects.
func (o *Objects) Add(other Objects) {
	o.ServiceAccounts = append(o.ServiceAccounts, other.ServiceAccounts...)
	o.Roles = append(o.Roles, other.Roles...)
	o.RoleBindings = append(o.RoleBindings, other.RoleBindings...)
	o.ConfigMaps = append(o.ConfigMaps, other.ConfigMaps...)
	o.EventPolicies = append(o.EventPolicies, other.EventPolicies...)
	o.Brokers = append(o.Brokers, other.Brokers...)
	o.Services = append(o.Services, other.Services...)
	o.SinkBindings = append(o.SinkBindings, other.SinkBindings...)
	o.JobSinks = append(o.JobSinks, other.JobSinks...)
	o.Triggers = append(o.Triggers, other.Triggers...)
	o.PingSources = append(o.PingSources, other.PingSources...)
	o.ApiServerSources = append(o.ApiServerSources, other.ApiServerSources...)
}

func (o *Objects) sort() {
	byKey := func(a, b metav1.ObjectMeta) bool {
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	}
	sort.Slice(o.ServiceAccounts, func(i, j int) bool {
		return byKey(o.ServiceAccounts[i].ObjectMeta, o.ServiceAccounts[j].ObjectMeta)
	})
	sort.Slice(o.Roles, func(i, j int) bool { return byKey(o.Roles[i].ObjectMeta, o.Roles[j].ObjectMeta) })
	sort.Slice(o.RoleBindings, func(i, j int) bool { return byKey(o.RoleBindings[i].ObjectMeta, o.RoleBindings[j].ObjectMeta) })
	sortPolicies(o.EventPolicies)
	o.EventPolicies = dedupePolicies(o.EventPolicies)
	sort.Slice(o.ConfigMaps, func(i, j int) bool { return byKey(o.ConfigMaps[i].ObjectMeta, o.ConfigMaps[j].ObjectMeta) })
	sort.Slice(o.Brokers, func(i, j int) bool { return byKey(o.Brokers[i].ObjectMeta, o.Brokers[j].ObjectMeta) })
	sort.Slice(o.Services, func(i, j int) bool { return byKey(o.Services[i].ObjectMeta, o.Services[j].ObjectMeta) })
	sort.Slice(o.SinkBindings, func(i, j int) bool { return byKey(o.SinkBindings[i].ObjectMeta, o.SinkBindings[j].ObjectMeta) })
	sort.Slice(o.JobSinks, func(i, j int) bool { return byKey(o.JobSinks[i].ObjectMeta, o.JobSinks[j].ObjectMeta) })
	sort.Slice(o.Triggers, func(i, j int) bool { return byKey(o.Triggers[i].ObjectMeta, o.Triggers[j].ObjectMeta) })
	sort.Slice(o.PingSources, func(i, j int) bool { return byKey(o.PingSources[i].ObjectMeta, o.PingSources[j].ObjectMeta) })
	sort.Slice(o.ApiServerSources, func(i, j int) bool {
		return byKey(o.ApiServerSources[i].ObjectMeta, o.ApiServerSources[j].ObjectMeta)
	})
}

// List is every object, in the order they apply: ServiceAccounts, Roles,
// RoleBindings, ConfigMaps, EventPolicies (before the Brokers they close,
// so that no sender finds one open), Brokers, Services, SinkBindings,
// JobSinks (after the SinkBinding that gives their Jobs K_SINK), Triggers, then
// the sources (last, so that what they send finds its Trigger):
// PingSources, ApiServerSources.
func (o Objects) List() []any {
	var out []any
	for i := range o.ServiceAccounts {
		out = append(out, &o.ServiceAccounts[i])
	}
	for i := range o.Roles {
		out = append(out, &o.Roles[i])
	}
	for i := range o.RoleBindings {
		out = append(out, &o.RoleBindings[i])
	}
	for i := range o.ConfigMaps {
		out = append(out, &o.ConfigMaps[i])
	}
	for i := range o.EventPolicies {
		out = append(out, &o.EventPolicies[i])
	}
	for i := range o.Brokers {
		out = append(out, &o.Brokers[i])
	}
	for i := range o.Services {
		out = append(out, &o.Services[i])
	}
	for i := range o.SinkBindings {
		out = append(out, &o.SinkBindings[i])
	}
	for i := range o.JobSinks {
		out = append(out, &o.JobSinks[i])
	}
	for i := range o.Triggers {
		out = append(out, &o.Triggers[i])
	}
	for i := range o.PingSources {
		out = append(out, &o.PingSources[i])
	}
	for i := range o.ApiServerSources {
		out = append(out, &o.ApiServerSources[i])
	}
	return out
}

// YAML is the objects as one YAML stream, "---" between documents, without
// the empty status and creationTimestamp fields Go's types carry.
func (o Objects) YAML() ([]byte, error) {
	var buf bytes.Buffer
	for i, obj := range o.List() {
		b, err := yaml.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("encode rendered object: %w", err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("encode rendered object: %w", err)
		}
		delete(m, "status")
		dropEmpty(m)
		if b, err = yaml.Marshal(m); err != nil {
			return nil, fmt.Errorf("encode rendered object: %w", err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// dropEmpty removes what Go's types write for unset fields: the
// `creationTimestamp: null` of metav1.ObjectMeta, `resources: {}` of a
// container, and the `port: 0` of a probe (Knative probes the serving port).
func dropEmpty(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, c := range t {
			switch {
			case k == "creationTimestamp" && c == nil:
				delete(t, k)
			case k == "resources" && isEmptyMap(c):
				delete(t, k)
			case k == "port" && c == float64(0):
				delete(t, k)
			default:
				dropEmpty(c)
			}
		}
	case []any:
		for _, c := range t {
			dropEmpty(c)
		}
	}
}

func isEmptyMap(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 0
}

// Input is a directory of zeroflow objects to render.
type Input struct {
	EventSources      []*v1alpha1.EventSource
	Sensors           []*v1alpha1.Sensor
	WorkflowTemplates []*v1alpha1.WorkflowTemplate
	Workflows         []*v1alpha1.Workflow
	CronWorkflows     []*v1alpha1.CronWorkflow
}

// Render renders everything in: each EventSource, Sensor and
// CronWorkflow, with the EventPolicies of their senders, and a step
// Trigger (and its replies' policy) per user function that a template
// calls (in the namespace and on the broker given, where the controller
// sends step.run events).
func Render(in Input, namespace, broker string, opts Options) (Objects, error) {
	var out Objects
	for _, es := range in.EventSources {
		objs, err := EventSource(es, opts)
		if err != nil {
			return Objects{}, err
		}
		out.Add(objs)
	}
	for _, s := range in.Sensors {
		objs, err := Sensor(s, opts)
		if err != nil {
			return Objects{}, err
		}
		out.Add(objs)
	}
	for _, cw := range in.CronWorkflows {
		out.Add(CronWorkflow(cw, broker))
	}
	// Sensors submit to their own eventBusName and CronWorkflows fire into
	// their namespace's broker: the controller takes its inputs there too
	// (the runtime's Broker has its Triggers and policies already). A
	// CronWorkflow's broker lets its PingSources in, and so is closed to
	// everyone else, as the runtime's is.
	cronNamespaces := map[string]bool{}
	for _, cw := range in.CronWorkflows {
		cronNamespaces[identityNamespace(cw.Namespace)] = true
	}
	for _, ref := range in.EventBuses(namespace, broker) {
		if ref == (BrokerRef{namespace, broker}) {
			continue
		}
		out.Triggers = append(out.Triggers, EventBusControllerTriggers(ref, namespace)...)
		if ref.Name == broker && cronNamespaces[identityNamespace(ref.Namespace)] {
			out.EventPolicies = append(out.EventPolicies, CronEventPolicy(ref.Namespace, ref.Name))
		}
	}
	for _, fn := range in.CalledFunctions() {
		out.Triggers = append(out.Triggers, StepFunctionTriggers(namespace, broker, fn, fn)...)
		out.EventPolicies = append(out.EventPolicies, StepFunctionEventPolicy(namespace, broker, fn))
	}
	out.sort()
	return out, nil
}

// specOnly is obj as a function reads it: its kind, name, namespace,
// labels and spec, not its status or server-set metadata.
func specOnly(obj any) any {
	switch v := obj.(type) {
	case *v1alpha1.EventSource:
		return struct {
			metav1.TypeMeta `json:",inline"`
			Metadata        objectRef                `json:"metadata"`
			Spec            v1alpha1.EventSourceSpec `json:"spec"`
		}{metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "EventSource"}, refOf(v.ObjectMeta), v.Spec}
	case *v1alpha1.Sensor:
		return struct {
			metav1.TypeMeta `json:",inline"`
			Metadata        objectRef           `json:"metadata"`
			Spec            v1alpha1.SensorSpec `json:"spec"`
		}{metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Sensor"}, refOf(v.ObjectMeta), v.Spec}
	}
	return obj
}

type objectRef struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

func refOf(m metav1.ObjectMeta) objectRef {
	return objectRef{Name: m.Name, Namespace: m.Namespace, Labels: m.Labels}
}

// InputOf sorts decoded zeroflow objects into an Input, giving those
// without a namespace the one given (the objects are copied, not changed).
func InputOf(values []any, namespace string) Input {
	var in Input
	for _, v := range values {
		switch o := v.(type) {
		case *v1alpha1.EventSource:
			o = o.DeepCopy()
			if o.Namespace == "" {
				o.Namespace = namespace
			}
			in.EventSources = append(in.EventSources, o)
		case *v1alpha1.Sensor:
			o = o.DeepCopy()
			if o.Namespace == "" {
				o.Namespace = namespace
			}
			in.Sensors = append(in.Sensors, o)
		case *v1alpha1.WorkflowTemplate:
			in.WorkflowTemplates = append(in.WorkflowTemplates, o)
		case *v1alpha1.Workflow:
			in.Workflows = append(in.Workflows, o)
		case *v1alpha1.CronWorkflow:
			o = o.DeepCopy()
			if o.Namespace == "" {
				o.Namespace = namespace
			}
			in.CronWorkflows = append(in.CronWorkflows, o)
		}
	}
	return in
}
