// Package trigger runs the triggers of a Sensor: submit or control a
// Workflow, act on any Kubernetes object, make an HTTP request, log, send a
// CloudEvent or post to Slack, each with Argo Events' fields and
// parameters. A runner runs one attempt; retries, rate limits and
// dead-letter triggers are the sensor's.
package trigger

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"

	"github.com/cloudevents/sdk-go/v2/event"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/dynamic"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/functions/sensor/params"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

// Env is what triggers act through.
type Env struct {
	// Sensor is the sensor the triggers belong to (its name and namespace
	// name what it makes).
	Sensor *v1alpha1.Sensor
	// Dynamic and Mapper reach the Kubernetes API (k8s and workflow
	// control triggers).
	Dynamic dynamic.Interface
	Mapper  meta.RESTMapper
	// Send delivers a CloudEvent to the sensor's broker and returns once
	// the broker accepted it.
	Send    func(ctx context.Context, ev event.Event) error
	Secrets secrets.Resolver
	// HTTP makes the requests of http, slack and cloudEvent triggers.
	HTTP   *http.Client
	Logger *slog.Logger
	// Offload is where workflow argument values above the offload
	// threshold go (the workflow and k8s triggers).
	Offload sdk.EventOffload
	// AllowNamespaces are the namespaces other than the sensor's that
	// k8s and workflow triggers may act in ("*": any, and cluster-scoped
	// objects).
	AllowNamespaces []string
}

// checkNamespace says why a trigger may not act on an object in ns (""
// and namespaced false: a cluster-scoped one), or nil. The sensor's
// ServiceAccount may be bound widely, and the Sensor's author need not be
// trusted with all of it: a trigger stays in the sensor's namespace unless
// a cluster admin widened it in the sensor function's config.
func (e *Env) checkNamespace(trigger, ref, ns string, namespaced bool) error {
	if slices.Contains(e.AllowNamespaces, "*") {
		return nil
	}
	own := e.Sensor.Namespace
	if !namespaced {
		return Permanent(fmt.Errorf("trigger %s: %s is cluster-scoped: a sensor acts only in its own namespace %q (a cluster admin can allow it with the sensor function's --allow-namespaces='*')", trigger, ref, own))
	}
	if ns != own && !slices.Contains(e.AllowNamespaces, ns) {
		return Permanent(fmt.Errorf("trigger %s: %s is in namespace %q: a sensor acts only in its own namespace %q (a cluster admin can allow it with the sensor function's --allow-namespaces=%s)", trigger, ref, ns, own, ns))
	}
	return nil
}

// Firing is one firing of a trigger: the events that satisfied its
// conditions, by dependency name, and a key that identifies this set of
// events, so that what a firing makes can be named after it.
type Firing struct {
	Key    string
	Events map[string]event.Event
}

// Dependencies returns the names of the firing's dependencies, sorted.
func (f Firing) Dependencies() []string {
	names := make([]string, 0, len(f.Events))
	for name := range f.Events {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Runner runs one attempt of a trigger.
type Runner interface {
	Run(ctx context.Context, f Firing) error
}

// New builds the runner of a trigger template; policy is its trigger's.
// It checks what can be checked before any event arrives: the kind, and
// that sources decode.
func New(tt *v1alpha1.TriggerTemplate, policy *v1alpha1.TriggerPolicy, env *Env) (Runner, error) {
	switch {
	case tt.WorkflowTrigger() != nil:
		return newWorkflow(tt, env)
	case tt.K8s != nil:
		return newK8s(tt, env)
	case tt.HTTP != nil:
		return newHTTP(tt, policy, env), nil
	case tt.Log != nil:
		return newLog(tt, env), nil
	case tt.CloudEvent != nil:
		return newCloudEvent(tt, env), nil
	case tt.Slack != nil:
		return newSlack(tt, env), nil
	}
	return nil, fmt.Errorf("trigger %s: no trigger kind set (workflow, k8s, http, log, cloudEvent or slack)", tt.Name)
}

// Parameterized returns the template with trigger-level parameters applied
// (Argo applies Trigger.parameters to the template, e.g. dest
// "http.url"). Without parameters it is tt itself.
func Parameterized(tt *v1alpha1.TriggerTemplate, ps []v1alpha1.TriggerParameter, events map[string]event.Event) (*v1alpha1.TriggerTemplate, error) {
	if len(ps) == 0 {
		return tt, nil
	}
	doc, err := json.Marshal(tt)
	if err != nil {
		return nil, fmt.Errorf("trigger %s: encode template: %w", tt.Name, err)
	}
	if doc, err = params.Apply(doc, ps, events); err != nil {
		return nil, fmt.Errorf("trigger %s: %w", tt.Name, err)
	}
	out := &v1alpha1.TriggerTemplate{}
	if err := json.Unmarshal(doc, out); err != nil {
		return nil, fmt.Errorf("trigger %s: the parameters made the template invalid: %w", tt.Name, err)
	}
	return out, nil
}

// applyTo applies a kind's own parameters to a value of that kind (e.g.
// an HTTPTrigger with dest "url") and decodes the result into out.
func applyTo[T any](in *T, ps []v1alpha1.TriggerParameter, events map[string]event.Event, out *T) error {
	if len(ps) == 0 {
		*out = *in
		return nil
	}
	doc, err := json.Marshal(in)
	if err != nil {
		return err
	}
	if doc, err = params.Apply(doc, ps, events); err != nil {
		return err
	}
	return json.Unmarshal(doc, out)
}
