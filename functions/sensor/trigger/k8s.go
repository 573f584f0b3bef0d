package trigger

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sensor/params"
	"github.com/zeroflow-dev/zeroflow/internal/argocompat"
)

// k8sRunner creates, updates, patches or deletes any object through the
// dynamic client, as Argo's standard k8s trigger.
type k8sRunner struct {
	name string
	spec *v1alpha1.K8sTrigger
	doc  []byte
	env  *Env
}

func newK8s(tt *v1alpha1.TriggerTemplate, env *Env) (Runner, error) {
	doc, err := sourceJSON(tt.K8s.Source)
	if err != nil {
		return nil, fmt.Errorf("trigger %s: %w", tt.Name, err)
	}
	u, err := decodeObject(doc)
	if err != nil {
		return nil, fmt.Errorf("trigger %s: source: %w", tt.Name, err)
	}
	if u.GetKind() == "" || u.GetAPIVersion() == "" {
		return nil, fmt.Errorf("trigger %s: source: the object needs apiVersion and kind", tt.Name)
	}
	return &k8sRunner{name: tt.Name, spec: tt.K8s, doc: doc, env: env}, nil
}

func (r *k8sRunner) Run(ctx context.Context, f Firing) error {
	doc, err := params.Apply(r.doc, r.spec.Parameters, f.Events)
	if err != nil {
		return Permanent(fmt.Errorf("k8s trigger %s: %w", r.name, err))
	}
	obj, err := decodeObject(doc)
	if err != nil {
		return Permanent(fmt.Errorf("k8s trigger %s: after parameters: %w", r.name, err))
	}
	rc, converted, err := r.resource(obj)
	if err != nil {
		return err
	}
	op := r.spec.Operation
	if op == "" {
		op = v1alpha1.K8sCreate
	}
	ref := obj.GetKind() + " " + objectRef(obj)
	log := r.env.Logger.With("trigger", r.name, "object", ref, "operation", op)
	if converted {
		// The body sent must carry the apiVersion of the kind it goes to.
		if doc, err = json.Marshal(obj.Object); err != nil {
			return Permanent(fmt.Errorf("k8s trigger %s: encode %s: %w", r.name, ref, err))
		}
		log.InfoContext(ctx, "Argo object converted: "+argocompat.APIVersion+" is not served here, so it goes to zeroflow's kind",
			"apiVersion", obj.GetAPIVersion())
	}
	switch op {
	case v1alpha1.K8sCreate:
		labelObject(obj, r.env.Sensor.Name, r.name)
		if err := offloadUnstructuredWorkflow(ctx, r.env.Offload, obj); err != nil {
			return fmt.Errorf("k8s trigger %s: create %s: %w", r.name, ref, err)
		}
		created, err := rc.Create(ctx, obj, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			// A redelivered event creates the same object again; the
			// object it wants is there.
			log.InfoContext(ctx, "object exists already")
			return nil
		}
		if err != nil {
			return classifyAPIError(fmt.Errorf("k8s trigger %s: create %s: %w", r.name, ref, err), err)
		}
		log.InfoContext(ctx, "object created", "name", created.GetName())
	case v1alpha1.K8sUpdate:
		if err := r.update(ctx, rc, obj, f); err != nil {
			return err
		}
		log.InfoContext(ctx, "object updated")
	case v1alpha1.K8sPatch:
		strategy := r.spec.PatchStrategy
		if strategy == "" {
			strategy = string(types.MergePatchType)
		}
		if obj.GetName() == "" {
			return Permanent(fmt.Errorf("k8s trigger %s: patch needs metadata.name", r.name))
		}
		body := doc
		opts := metav1.PatchOptions{}
		if types.PatchType(strategy) == types.ApplyPatchType {
			opts.FieldManager = "zeroflow-sensor"
		}
		if _, err := rc.Patch(ctx, obj.GetName(), types.PatchType(strategy), body, opts); err != nil {
			return classifyAPIError(fmt.Errorf("k8s trigger %s: patch %s: %w", r.name, ref, err), err)
		}
		log.InfoContext(ctx, "object patched")
	case v1alpha1.K8sDelete:
		if obj.GetName() == "" {
			return Permanent(fmt.Errorf("k8s trigger %s: delete needs metadata.name", r.name))
		}
		err := rc.Delete(ctx, obj.GetName(), metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			// Argo Events reports a delete of a missing object as an
			// error. A redelivery of a firing that deleted it already
			// cannot be told from a delete of a name that never existed,
			// so both are errors, not retried: retrying cannot make the
			// object exist.
			return Permanent(fmt.Errorf("k8s trigger %s: delete %s: not found (nothing deleted)", r.name, ref))
		}
		if err != nil {
			return classifyAPIError(fmt.Errorf("k8s trigger %s: delete %s: %w", r.name, ref, err), err)
		}
		log.InfoContext(ctx, "object deleted")
	default:
		return Permanent(fmt.Errorf("k8s trigger %s: unknown operation %q", r.name, op))
	}
	return nil
}

// update replaces the object. With liveObject, the parameters are applied
// to the object as it is now instead of to the source.
func (r *k8sRunner) update(ctx context.Context, rc dynamic.ResourceInterface, obj *unstructured.Unstructured, f Firing) error {
	ref := obj.GetKind() + " " + objectRef(obj)
	live, err := rc.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		return classifyAPIError(fmt.Errorf("k8s trigger %s: update %s: %w", r.name, ref, err), err)
	}
	next := obj
	if r.spec.LiveObject {
		doc, err := json.Marshal(live.Object)
		if err != nil {
			return Permanent(fmt.Errorf("k8s trigger %s: %w", r.name, err))
		}
		if doc, err = params.Apply(doc, r.spec.Parameters, f.Events); err != nil {
			return Permanent(fmt.Errorf("k8s trigger %s: %w", r.name, err))
		}
		if next, err = decodeObject(doc); err != nil {
			return Permanent(fmt.Errorf("k8s trigger %s: %w", r.name, err))
		}
	}
	next.SetResourceVersion(live.GetResourceVersion())
	if _, err := rc.Update(ctx, next, metav1.UpdateOptions{}); err != nil {
		return classifyAPIError(fmt.Errorf("k8s trigger %s: update %s: %w", r.name, ref, err), err)
	}
	return nil
}

// resource finds the API resource of the object's kind; a namespaced
// object without a namespace goes to the sensor's. An Argo object of a kind
// zeroflow serves goes to zeroflow's kind where Argo is not installed
// (converted).
func (r *k8sRunner) resource(obj *unstructured.Unstructured) (rc dynamic.ResourceInterface, converted bool, err error) {
	if r.env.Dynamic == nil || r.env.Mapper == nil {
		return nil, false, Permanent(fmt.Errorf("k8s trigger %s: this sensor has no Kubernetes API access", r.name))
	}
	gvk := obj.GroupVersionKind()
	mapping, converted, err := argocompat.RESTMapping(r.env.Mapper, obj)
	if err != nil {
		if resettable, ok := r.env.Mapper.(meta.ResettableRESTMapper); ok && meta.IsNoMatchError(err) {
			// The kind may have been installed since the mapper cached
			// discovery.
			resettable.Reset()
			mapping, converted, err = argocompat.RESTMapping(r.env.Mapper, obj)
		}
		if err != nil {
			return nil, false, Permanent(fmt.Errorf("k8s trigger %s: kind %s: %w", r.name, gvk, err))
		}
	}
	if mapping.Scope.Name() == meta.RESTScopeNameRoot {
		if err := r.env.checkNamespace(r.name, obj.GetKind()+" "+objectRef(obj), "", false); err != nil {
			return nil, false, err
		}
		return r.env.Dynamic.Resource(mapping.Resource), converted, nil
	}
	if obj.GetNamespace() == "" {
		obj.SetNamespace(r.env.Sensor.Namespace)
	}
	if err := r.env.checkNamespace(r.name, obj.GetKind()+" "+objectRef(obj), obj.GetNamespace(), true); err != nil {
		return nil, false, err
	}
	return r.env.Dynamic.Resource(mapping.Resource).Namespace(obj.GetNamespace()), converted, nil
}

func labelObject(obj *unstructured.Unstructured, sensor, trigger string) {
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelSensor] = sensor
	labels[LabelTrigger] = trigger
	obj.SetLabels(labels)
}

func objectRef(obj *unstructured.Unstructured) string {
	name := obj.GetName()
	if name == "" {
		name = obj.GetGenerateName() + "*"
	}
	if ns := obj.GetNamespace(); ns != "" {
		return ns + "/" + name
	}
	return name
}
