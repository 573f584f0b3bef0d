package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/render"
)

// ClusterSources keeps what runs for EventSources and Sensors in step on a
// cluster: every object render.EventSource and render.Sensor build for one
// (Knative Services, ConfigMaps, SinkBindings, Triggers, EventPolicies,
// ServiceAccounts, the PingSources and ApiServerSources of calendar and
// resource events), with the names and labels `zeroflow render` prints, so
// that applying both (GitOps and the controller) makes one set, not two.
// Each is owned by its EventSource or Sensor, so that Kubernetes' garbage
// collector removes them with it even if no controller runs then.
type ClusterSources struct {
	// Dynamic writes the objects.
	Dynamic dynamic.Interface
	// Client writes the Ready condition of EventSources and Sensors; nil
	// writes none.
	Client *Client
	// Options are the cluster's render choices: the functions' image (a
	// resolved one; render's ko:// default runs nowhere but under ko) and
	// the token issuer.
	Options render.Options
	Logger  *slog.Logger
}

// Reasons of the Ready condition ClusterSources writes.
const (
	// ReasonApplied: every object render makes for it is applied (Knative
	// may not have made them ready yet; their own status says).
	ReasonApplied = "Applied"
	// ReasonNameTaken: an object it needs has a name that another owns.
	ReasonNameTaken = "NameTaken"
	// ReasonApplyFailed: rendering or writing an object failed; the
	// controller tries again.
	ReasonApplyFailed = "ApplyFailed"
)

// ApplyEventSource applies what render.EventSource builds for es.
func (s *ClusterSources) ApplyEventSource(ctx context.Context, es *v1alpha1.EventSource) error {
	o := owner{kind: "EventSource", namespace: es.Namespace, name: es.Name, uid: string(es.UID), label: render.LabelEventSource}
	objs, err := render.EventSource(es, s.Options)
	if err != nil {
		err = fmt.Errorf("%s: render: %w", o, err)
	}
	return s.applyAndReport(ctx, o, "eventsources", es.Generation, es.Status.Status, objs, err)
}

// DeleteEventSource deletes the objects of the EventSource namespace/name
// (by their label) and drops its references from shared ones. The garbage
// collector would too, those it owns; deleting them at once stops its
// webhooks between the two, and also removes what GitOps applied that no
// controller adopted yet.
func (s *ClusterSources) DeleteEventSource(ctx context.Context, namespace, name string) error {
	_, err := s.applier().apply(ctx, owner{kind: "EventSource", namespace: namespace, name: name, label: render.LabelEventSource}, nil)
	return err
}

// ApplySensor applies what render.Sensor builds for sn.
func (s *ClusterSources) ApplySensor(ctx context.Context, sn *v1alpha1.Sensor) error {
	o := owner{kind: "Sensor", namespace: sn.Namespace, name: sn.Name, uid: string(sn.UID), label: render.LabelSensor}
	objs, err := render.Sensor(sn, s.Options)
	if err != nil {
		err = fmt.Errorf("%s: render: %w", o, err)
	}
	return s.applyAndReport(ctx, o, "sensors", sn.Generation, sn.Status.Status, objs, err)
}

// DeleteSensor is DeleteEventSource for a Sensor.
func (s *ClusterSources) DeleteSensor(ctx context.Context, namespace, name string) error {
	_, err := s.applier().apply(ctx, owner{kind: "Sensor", namespace: namespace, name: name, label: render.LabelSensor}, nil)
	return err
}

// applyAndReport applies objs for o (unless rendering failed) and writes
// the outcome as o's Ready condition.
func (s *ClusterSources) applyAndReport(ctx context.Context, o owner, resource string, generation int64, st duckv1.Status, objs render.Objects, err error) error {
	n := 0
	if err == nil {
		var want []*unstructured.Unstructured
		if want, err = unstructuredObjects(o, objs); err == nil {
			n, err = s.applier().apply(ctx, o, want)
		}
	}
	cond := apis.Condition{Type: apis.ConditionReady, Status: corev1.ConditionTrue, Reason: ReasonApplied, Message: fmt.Sprintf("%d objects applied", n)}
	switch {
	case errors.Is(err, errTaken):
		cond.Status, cond.Reason, cond.Message = corev1.ConditionFalse, ReasonNameTaken, err.Error()
	case err != nil:
		cond.Status, cond.Reason, cond.Message = corev1.ConditionFalse, ReasonApplyFailed, err.Error()
	}
	if serr := s.report(ctx, o, resource, generation, st, cond); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

// report writes cond and generation into o's status, unless they are
// there already (a write per resync would wake every watcher of the kind).
func (s *ClusterSources) report(ctx context.Context, o owner, resource string, generation int64, st duckv1.Status, cond apis.Condition) error {
	if s.Client == nil {
		return nil
	}
	old := st.GetCondition(apis.ConditionReady)
	if st.ObservedGeneration == generation && old != nil && old.Status == cond.Status && old.Reason == cond.Reason && old.Message == cond.Message {
		return nil
	}
	if old != nil && old.Status == cond.Status {
		cond.LastTransitionTime = old.LastTransitionTime
	} else {
		cond.LastTransitionTime = apis.VolatileTime{Inner: metav1.Now()}
	}
	conds := apis.Conditions{cond}
	for _, c := range st.Conditions {
		if c.Type != apis.ConditionReady {
			conds = append(conds, c)
		}
	}
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"observedGeneration": generation, "conditions": conds}})
	if err != nil {
		return fmt.Errorf("%s: encode its status: %w", o, err)
	}
	if err := s.Client.patchStatus(ctx, resource, o.namespace, o.name, patch); err != nil {
		return fmt.Errorf("%s: write its Ready condition: %w", o, err)
	}
	return nil
}

func (s *ClusterSources) applier() *applier {
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &applier{dyn: s.Dynamic, logger: logger}
}

// unstructuredObjects are objs as the dynamic client writes them: without
// status, nor the creationTimestamp Go's types write as null.
func unstructuredObjects(o owner, objs render.Objects) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, obj := range objs.List() {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return nil, fmt.Errorf("%s: convert a rendered %T: %w", o, obj, err)
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			return nil, fmt.Errorf("%s: render made a %T without apiVersion and kind", o, obj)
		}
		delete(u.Object, "status")
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		if u.GetNamespace() == "" {
			u.SetNamespace(o.namespace)
		}
		out = append(out, u)
	}
	return out, nil
}
