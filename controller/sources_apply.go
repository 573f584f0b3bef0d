package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/render"
)

// errTaken is an object an owner's would overwrite that belongs to
// something else.
var errTaken = errors.New("an object of that name belongs to something else")

// ownedKinds are the kinds render.EventSource and render.Sensor make, in
// the order render.Objects.List applies them, with their resources.
func ownedKinds() []ownedKind {
	return []ownedKind{
		{schema.GroupVersionKind{Version: "v1", Kind: "ServiceAccount"}, "serviceaccounts"},
		{schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, "configmaps"},
		{schema.GroupVersionKind{Group: "eventing.knative.dev", Version: "v1alpha1", Kind: "EventPolicy"}, "eventpolicies"},
		{schema.GroupVersionKind{Group: "serving.knative.dev", Version: "v1", Kind: "Service"}, "services"},
		{schema.GroupVersionKind{Group: "sources.knative.dev", Version: "v1", Kind: "SinkBinding"}, "sinkbindings"},
		{schema.GroupVersionKind{Group: "eventing.knative.dev", Version: "v1", Kind: "Trigger"}, "triggers"},
		{schema.GroupVersionKind{Group: "sources.knative.dev", Version: "v1", Kind: "PingSource"}, "pingsources"},
		{schema.GroupVersionKind{Group: "sources.knative.dev", Version: "v1", Kind: "ApiServerSource"}, "apiserversources"},
	}
}

type ownedKind struct {
	gvk      schema.GroupVersionKind
	resource string
}

func (k ownedKind) gvr() schema.GroupVersionResource {
	return k.gvk.GroupVersion().WithResource(k.resource)
}

// owner is the EventSource or Sensor whose objects are applied. Its
// objects are the ones render labels with label=name; an object render
// makes without that label (the sensor ServiceAccount's EventPolicy, one
// per Broker for every Sensor that runs as it) is shared: each owner that
// needs it holds a reference to it, none as its controller, and the last
// one to go deletes it, as Kubernetes' garbage collector would.
type owner struct {
	kind, namespace, name string
	// uid is empty when the owner is gone (a delete).
	uid   string
	label string
}

func (o owner) String() string { return o.kind + " " + o.namespace + "/" + o.name }

func (o owner) ref(controller bool) metav1.OwnerReference {
	r := metav1.OwnerReference{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: o.kind, Name: o.name, UID: types.UID(o.uid)}
	if controller {
		r.Controller = ptr.To(true)
	}
	return r
}

// isOwnerRef reports whether r names an object of o's kind and name, of
// any UID (an earlier one of that name is as gone as o is, or replaced by
// o).
func (o owner) isRef(r metav1.OwnerReference) bool {
	gv, err := schema.ParseGroupVersion(r.APIVersion)
	return err == nil && gv.Group == v1alpha1.SchemeGroupVersion.Group && r.Kind == o.kind && r.Name == o.name
}

// applier writes an owner's objects through the dynamic client.
type applier struct {
	dyn    dynamic.Interface
	logger *slog.Logger
}

// fieldManager names the controller's writes in managedFields.
const fieldManager = "zeroflow-controller"

// apply makes the objects of o in its namespace be want: each created, or
// updated where it differs, with o's reference; o's objects that want no
// longer has deleted (and o's reference dropped from shared ones); an
// object of a name want has that is labelled for another owner left alone,
// with an error wrapping errTaken. An empty want with no uid deletes.
func (a *applier) apply(ctx context.Context, o owner, want []*unstructured.Unstructured) (int, error) {
	byKind := map[schema.GroupVersionKind][]*unstructured.Unstructured{}
	for _, w := range want {
		byKind[w.GroupVersionKind()] = append(byKind[w.GroupVersionKind()], w)
	}
	known := map[schema.GroupVersionKind]bool{}
	for _, k := range ownedKinds() {
		known[k.gvk] = true
	}
	for gvk := range byKind {
		if !known[gvk] {
			return 0, fmt.Errorf("%s: render made a %s, which the controller does not apply", o, gvk)
		}
	}
	var errs []error
	applied := 0
	for _, k := range ownedKinds() {
		client := a.dyn.Resource(k.gvr()).Namespace(o.namespace)
		// Every object of the kind render made (render labels them all
		// part-of zeroflow): o's own, and the shared ones o may hold a
		// reference to.
		list, err := client.List(ctx, metav1.ListOptions{LabelSelector: render.LabelPartOf + "=zeroflow"})
		if err != nil {
			if len(byKind[k.gvk]) == 0 && (apierrors.IsNotFound(err) || meta404(err)) {
				// A kind this API does not serve (no ApiServerSources
				// installed, say) holds none of o's objects.
				continue
			}
			errs = append(errs, fmt.Errorf("%s: list %s: %w", o, k.resource, err))
			continue
		}
		have := map[string]*unstructured.Unstructured{}
		for i := range list.Items {
			have[list.Items[i].GetName()] = &list.Items[i]
		}
		for _, w := range byKind[k.gvk] {
			if err := a.put(ctx, client, o, have[w.GetName()], w); err != nil {
				errs = append(errs, err)
			} else {
				applied++
			}
			delete(have, w.GetName())
		}
		for _, name := range slices.Sorted(maps.Keys(have)) {
			if err := a.release(ctx, client, o, have[name]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return applied, errors.Join(errs...)
}

// meta404 reports an error of a list of a resource the API has no route
// for (the dynamic client's plain 404).
func meta404(err error) bool {
	var s apierrors.APIStatus
	return errors.As(err, &s) && s.Status().Code == 404
}

// put creates w, or updates cur (the object of that name the list found,
// nil if none) to it.
func (a *applier) put(ctx context.Context, client dynamic.ResourceInterface, o owner, cur, w *unstructured.Unstructured) error {
	what := fmt.Sprintf("%s %s/%s", w.GetKind(), w.GetNamespace(), w.GetName())
	shared := w.GetLabels()[o.label] != o.name
	if cur == nil {
		obj := w.DeepCopy()
		obj.SetOwnerReferences([]metav1.OwnerReference{o.ref(!shared)})
		_, err := client.Create(ctx, obj, metav1.CreateOptions{FieldManager: fieldManager})
		if err == nil {
			a.logger.InfoContext(ctx, "created", "owner", o.String(), "object", what)
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%s: create %s: %w", o, what, err)
		}
		// There is one of that name that is not labelled part-of zeroflow.
		if cur, err = client.Get(ctx, w.GetName(), metav1.GetOptions{}); err != nil {
			return fmt.Errorf("%s: read %s: %w", o, what, err)
		}
	}
	refs, err := ownerRefs(o, cur, shared)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", o, what, err)
	}
	labels := maps.Clone(cur.GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, w.GetLabels())
	if covers(cur.Object, content(w.Object)) && maps.Equal(labels, cur.GetLabels()) && equality.Semantic.DeepEqual(refs, cur.GetOwnerReferences()) {
		return nil
	}
	next := cur.DeepCopy()
	for k := range next.Object {
		if !metaKey(k) {
			delete(next.Object, k)
		}
	}
	maps.Copy(next.Object, content(w.Object))
	next.SetLabels(labels)
	next.SetOwnerReferences(refs)
	// The status is the status subresource's: Update leaves it.
	delete(next.Object, "status")
	if _, err := client.Update(ctx, next, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
		return fmt.Errorf("%s: update %s: %w", o, what, err)
	}
	a.logger.InfoContext(ctx, "updated", "owner", o.String(), "object", what)
	return nil
}

// ownerRefs are cur's owner references with o's: o as the controller of
// an object of its own (what GitOps applied from `zeroflow render` is
// adopted, a reference to an earlier owner of o's name replaced), o beside
// the others on a shared one. An object labelled for another owner, or
// controlled by something else, is refused.
func ownerRefs(o owner, cur *unstructured.Unstructured, shared bool) ([]metav1.OwnerReference, error) {
	if l, ok := cur.GetLabels()[o.label]; (!shared && l != o.name) || (shared && ok) {
		// Another owner's (names join with '-', so that two owners' can
		// meet), or not render's for o: taking it over would run the
		// wrong thing.
		return nil, fmt.Errorf("%s=%q: %w", o.label, l, errTaken)
	}
	var out []metav1.OwnerReference
	for _, r := range cur.GetOwnerReferences() {
		if o.isRef(r) {
			continue
		}
		if r.Controller != nil && *r.Controller {
			return nil, fmt.Errorf("controlled by %s %s: %w", r.Kind, r.Name, errTaken)
		}
		out = append(out, r)
	}
	return append(out, o.ref(!shared)), nil
}

// release deletes cur, an object that o's render no longer makes, if it
// is o's (its label says so, whoever applied it: render's output for the
// old spec is stale too), or drops o's reference from a shared one,
// deleting it when no owner is left.
func (a *applier) release(ctx context.Context, client dynamic.ResourceInterface, o owner, cur *unstructured.Unstructured) error {
	what := fmt.Sprintf("%s %s/%s", cur.GetKind(), cur.GetNamespace(), cur.GetName())
	del := func(reason string) error {
		err := client.Delete(ctx, cur.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptrUID(cur)}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("%s: delete %s: %w", o, what, err)
		}
		a.logger.InfoContext(ctx, "deleted: "+reason, "owner", o.String(), "object", what)
		return nil
	}
	if cur.GetLabels()[o.label] == o.name {
		return del("its owner's render no longer makes it")
	}
	refs := cur.GetOwnerReferences()
	kept := slices.DeleteFunc(slices.Clone(refs), o.isRef)
	if len(kept) == len(refs) {
		return nil
	}
	if len(kept) == 0 {
		return del("no owner needs it any more")
	}
	next := cur.DeepCopy()
	next.SetOwnerReferences(kept)
	delete(next.Object, "status")
	if _, err := client.Update(ctx, next, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
		return fmt.Errorf("%s: drop its reference from %s: %w", o, what, err)
	}
	a.logger.InfoContext(ctx, "released", "owner", o.String(), "object", what)
	return nil
}

// metaKey reports a top-level field that is not the object's content.
func metaKey(k string) bool {
	return k == "apiVersion" || k == "kind" || k == "metadata" || k == "status"
}

// content is an object's content: its fields but apiVersion, kind,
// metadata and status (spec; a ConfigMap's data).
func content(obj map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range obj {
		if !metaKey(k) {
			out[k] = v
		}
	}
	return out
}

// covers reports whether live has every value want sets: a map each of
// want's keys, a list as many items each covering want's, a scalar the
// same value. What the cluster adds (Knative's defaulting webhooks fill in
// a Service's probes, timeouts and traffic) is not a difference, so that
// an unchanged object is not written at every resync; a value render
// sets that someone changed is. A zero value in want is covered by its
// absence: JSON without omitempty writes fields that were never set.
func covers(live, want any) bool {
	switch w := want.(type) {
	case nil:
		return true
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return live == nil && len(w) == 0
		}
		for k, v := range w {
			if !covers(l[k], v) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok {
			return live == nil && len(w) == 0
		}
		if len(l) != len(w) {
			return false
		}
		for i := range w {
			if !covers(l[i], w[i]) {
				return false
			}
		}
		return true
	}
	if live == nil {
		return reflect.ValueOf(want).IsZero()
	}
	if lf, ok := number(live); ok {
		wf, ok := number(want)
		return ok && lf == wf
	}
	return reflect.DeepEqual(live, want)
}

// number is a JSON number as decoded by either encoding/json or the
// unstructured converter.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}
