// Package resource is the built-in function that runs Argo resource
// templates: it creates, applies, patches or deletes any Kubernetes object
// through the dynamic client, then waits for successCondition or
// failureCondition (label-selector syntax over the object's fields, as
// Argo's: "status.phase == Succeeded,status.failed < 1").
package resource

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/argocompat"
	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

// Options configure the function.
type Options struct {
	Dynamic dynamic.Interface
	Mapper  meta.RESTMapper
	// PollInterval is how often conditions are checked; default 1s.
	PollInterval time.Duration
	Artifacts    sdk.ArtifactStore
	// AllowNamespaces widens where a step may act, a cluster admin's
	// choice: by default only in its workflow's namespace, and never on
	// a cluster-scoped object, whatever the function's RBAC would allow
	// (it serves every namespace, so RBAC alone would let a workflow of
	// one namespace act in all). Listed namespaces are allowed to every
	// workflow; "*" allows any namespace and cluster-scoped objects.
	AllowNamespaces []string
	// Impersonate, when set, is the client that acts as a step's
	// ServiceAccount (its template's or workflow's serviceAccountName)
	// in namespace, through Kubernetes impersonation: the function's own
	// ServiceAccount needs RBAC `impersonate` on that serviceaccount, else
	// the API refuses and the step fails saying so. Unset (zeroflow dev,
	// whose API has no RBAC), the ServiceAccount is recorded in the step's
	// log and the function acts as itself.
	Impersonate func(namespace, serviceAccount string) (dynamic.Interface, error)
}

// New returns the resource function.
func New(opts Options) sdk.Handler {
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	return sdk.Step(func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		return run(ctx, opts, in)
	}, sdk.StepOptions{Artifacts: opts.Artifacts})
}

func run(ctx context.Context, opts Options, in sdk.StepInput) (sdk.StepOutput, error) {
	t := in.Template.Resource
	if t == nil {
		return sdk.StepOutput{}, sdk.Errored(fmt.Errorf("template %s is not a resource template", in.Template.Name))
	}
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(t.Manifest), &obj.Object); err != nil || obj.Object == nil {
		return sdk.StepOutput{}, sdk.Errored(fmt.Errorf("resource template %s: manifest is not a YAML or JSON object: %v", in.Template.Name, err))
	}
	gvk := obj.GroupVersionKind()
	mapping, converted, err := argocompat.RESTMapping(opts.Mapper, obj)
	if err != nil {
		return sdk.StepOutput{}, sdk.Errored(fmt.Errorf("resource template %s: kind %s: %w", in.Template.Name, gvk, err))
	}
	if converted {
		// An Argo manifest ported unchanged: its fields are zeroflow's,
		// only the group differs.
		gvk = obj.GroupVersionKind()
		sdk.Logger(ctx).Info("Argo manifest converted: "+argocompat.APIVersion+" is not served here, so it goes to zeroflow's kind",
			"kind", gvk.Kind, "apiVersion", gvk.GroupVersion().String())
	}
	dyn, err := opts.client(ctx, in)
	if err != nil {
		return sdk.StepOutput{}, fmt.Errorf("resource template %s: %w", in.Template.Name, err)
	}
	var rc dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(in.Namespace)
		}
		rc = dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace())
	}
	// forbidden names the permission a refusal means.
	forbidden := func(verb string, err error) error {
		return explainForbidden(err, verb, mapping.Resource.GroupResource().String(), obj.GetNamespace(), in.Namespace, in.ServiceAccountName)
	}
	if err := opts.allowed(in.Namespace, gvk.Kind, obj, mapping.Scope.Name() == meta.RESTScopeNameNamespace); err != nil {
		return sdk.StepOutput{}, fmt.Errorf("resource template %s: %w", in.Template.Name, err)
	}
	if t.SetOwnerReference {
		obj.SetOwnerReferences(append(obj.GetOwnerReferences(), metav1.OwnerReference{
			APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Workflow", Name: in.Workflow, UID: types.UID(in.UID),
		}))
	}
	ref := fmt.Sprintf("%s %s", gvk.Kind, obj.GetName())
	var out *unstructured.Unstructured
	switch t.Action {
	case "create":
		if out, err = rc.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return sdk.StepOutput{}, fmt.Errorf("create %s: %w", ref, forbidden("create", err))
		}
	case "apply":
		force := true
		if out, err = rc.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "zeroflow", Force: force}); err != nil {
			return sdk.StepOutput{}, fmt.Errorf("apply %s: %w", ref, forbidden("patch", err))
		}
	case "patch":
		pt := types.MergePatchType
		switch t.MergeStrategy {
		case "json":
			pt = types.JSONPatchType
		case "strategic":
			pt = types.StrategicMergePatchType
		}
		body, _ := json.Marshal(obj.Object)
		if pt == types.JSONPatchType {
			body, _ = yaml.YAMLToJSON([]byte(t.Manifest))
		}
		if out, err = rc.Patch(ctx, obj.GetName(), pt, body, metav1.PatchOptions{}); err != nil {
			return sdk.StepOutput{}, fmt.Errorf("patch %s: %w", ref, forbidden("patch", err))
		}
	case "delete":
		err := rc.Delete(ctx, obj.GetName(), metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			// As Argo's kubectl delete: a missing object fails the step
			// (a name built wrong must not pass for a deletion), unless
			// the template says it may be gone already.
			if !ignoreNotFound(t.Flags) {
				return sdk.StepOutput{}, fmt.Errorf("delete %s in namespace %q: not found, nothing was deleted (flags: [--ignore-not-found] accepts that)", ref, obj.GetNamespace())
			}
			sdk.Logger(ctx).Info("not found, nothing to delete (--ignore-not-found)", "object", ref)
			return sdk.StepOutput{}, nil
		}
		if err != nil {
			return sdk.StepOutput{}, fmt.Errorf("delete %s: %w", ref, forbidden("delete", err))
		}
		sdk.Logger(ctx).Info("deleted", "object", ref)
		return sdk.StepOutput{}, nil
	default:
		return sdk.StepOutput{}, sdk.Errored(fmt.Errorf("resource template %s: action %q is not create, apply, patch or delete", in.Template.Name, t.Action))
	}
	sdk.Logger(ctx).Info(t.Action+"d", "object", ref, "namespace", out.GetNamespace())
	if t.SuccessCondition != "" || t.FailureCondition != "" {
		if out, err = wait(ctx, rc, out.GetName(), t, opts.PollInterval); err != nil {
			return sdk.StepOutput{}, err
		}
	}
	return outputs(in.Template, out)
}

// ignoreNotFound reports whether Argo's kubectl flag --ignore-not-found is
// among flags (lint rejects the flags zeroflow does not honour).
func ignoreNotFound(flags []string) bool {
	for _, f := range flags {
		if f == "--ignore-not-found" || f == "--ignore-not-found=true" {
			return true
		}
	}
	return false
}

// allowed says why a step of a workflow in ns may not act on obj, or nil.
func (o Options) allowed(ns, kind string, obj *unstructured.Unstructured, namespaced bool) error {
	if slices.Contains(o.AllowNamespaces, "*") {
		return nil
	}
	if ns == "" {
		return fmt.Errorf("the step.run names no namespace for its workflow, so %s %s cannot be checked against it", kind, obj.GetName())
	}
	if !namespaced {
		return fmt.Errorf("%s %s is cluster-scoped: a workflow acts only in its own namespace %q (a cluster admin can allow it with the resource function's --allow-namespaces='*')", kind, obj.GetName(), ns)
	}
	if target := obj.GetNamespace(); target != ns && !slices.Contains(o.AllowNamespaces, target) {
		return fmt.Errorf("%s %s is in namespace %q: a workflow acts only in its own namespace %q (a cluster admin can allow it with the resource function's --allow-namespaces=%s)", kind, obj.GetName(), target, ns, target)
	}
	return nil
}

// wait polls the object until successCondition or failureCondition holds.
func wait(ctx context.Context, rc dynamic.ResourceInterface, name string, t *v1alpha1.ResourceTemplate, every time.Duration) (*unstructured.Unstructured, error) {
	for {
		obj, err := rc.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		doc, _ := json.Marshal(obj.Object)
		if t.FailureCondition != "" {
			ok, err := Holds(t.FailureCondition, doc)
			if err != nil {
				return nil, sdk.Errored(fmt.Errorf("failureCondition: %w", err))
			}
			if ok {
				return obj, fmt.Errorf("failureCondition %q holds", t.FailureCondition)
			}
		}
		if t.SuccessCondition != "" {
			ok, err := Holds(t.SuccessCondition, doc)
			if err != nil {
				return nil, sdk.Errored(fmt.Errorf("successCondition: %w", err))
			}
			if ok {
				return obj, nil
			}
		} else {
			return obj, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("successCondition %q did not hold before the step's deadline", t.SuccessCondition)
		case <-time.After(every):
		}
	}
}

// Holds evaluates an Argo resource condition ("status.phase == Succeeded,
// status.failed < 1"; label-selector syntax with field paths for keys)
// against an object's JSON.
func Holds(cond string, doc []byte) (bool, error) {
	reqs, err := labels.ParseToRequirements(cond)
	if err != nil {
		return false, fmt.Errorf("%q: %w", cond, err)
	}
	for _, r := range reqs {
		v := gjson.GetBytes(doc, expression.GJSONPath(r.Key()))
		ok, err := holds(r, v)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func holds(r labels.Requirement, v gjson.Result) (bool, error) {
	vals := r.Values().List()
	switch r.Operator() {
	case selection.Exists:
		return v.Exists(), nil
	case selection.DoesNotExist:
		return !v.Exists(), nil
	case selection.Equals, selection.DoubleEquals, selection.In:
		return v.Exists() && contains(vals, v.String()), nil
	case selection.NotEquals, selection.NotIn:
		return !v.Exists() || !contains(vals, v.String()), nil
	case selection.GreaterThan, selection.LessThan:
		if !v.Exists() || len(vals) != 1 {
			return false, nil
		}
		want, err := strconv.ParseFloat(vals[0], 64)
		if err != nil {
			return false, fmt.Errorf("%s: %q is not a number", r.Key(), vals[0])
		}
		if r.Operator() == selection.GreaterThan {
			return v.Float() > want, nil
		}
		return v.Float() < want, nil
	}
	return false, fmt.Errorf("operator %s is not supported", r.Operator())
}

func contains(vals []string, s string) bool {
	for _, v := range vals {
		if strings.EqualFold(v, s) || v == s {
			return true
		}
	}
	return false
}

// outputs reads the template's output parameters with valueFrom.jsonPath
// from the object, and gives its name, as Argo's resource template does.
func outputs(t v1alpha1.Template, obj *unstructured.Unstructured) (sdk.StepOutput, error) {
	out := sdk.StepOutput{Parameters: map[string]string{"name": obj.GetName()}}
	doc, _ := json.Marshal(obj.Object)
	for _, p := range t.Outputs.Parameters {
		if p.ValueFrom == nil || p.ValueFrom.JSONPath == "" {
			continue
		}
		path := strings.TrimPrefix(strings.Trim(p.ValueFrom.JSONPath, "{}"), ".")
		v := gjson.GetBytes(doc, expression.GJSONPath(path))
		switch {
		case v.Exists():
			out.Parameters[p.Name] = v.String()
		case p.ValueFrom.Default != nil:
			out.Parameters[p.Name] = string(*p.ValueFrom.Default)
		default:
			return out, fmt.Errorf("output parameter %s: %s is not in %s %s", p.Name, p.ValueFrom.JSONPath, obj.GetKind(), obj.GetName())
		}
	}
	return out, nil
}
