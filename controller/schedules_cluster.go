package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/render"
)

// ClusterSchedules keeps CronWorkflows' PingSources (sources.knative.dev/v1)
// in step on a cluster: the PingSources render.CronWorkflow builds, so that
// they have the names `zeroflow render` prints for the same CronWorkflow
// (applying both, GitOps and the controller, makes one set, not two). Each
// is owned by its CronWorkflow, so that Kubernetes' garbage collector
// removes them with it even if no controller runs then.
type ClusterSchedules struct {
	// Dynamic writes the PingSources.
	Dynamic dynamic.Interface
	// Broker is the Broker the PingSources fire into (in the
	// CronWorkflow's namespace); default "default".
	Broker string
	Logger *slog.Logger
}

// pingSources is the PingSource resource.
func pingSources() schema.GroupVersionResource {
	return sourcesv1.SchemeGroupVersion.WithResource("pingsources")
}

// errNameTaken is a PingSource a CronWorkflow's would overwrite that
// belongs to something else.
var errNameTaken = errors.New("a PingSource of that name belongs to something else")

// Apply creates or updates cw's PingSources and deletes those of its
// schedules no longer in its spec (found by their label).
func (s *ClusterSchedules) Apply(ctx context.Context, cw *v1alpha1.CronWorkflow) error {
	broker := s.Broker
	if broker == "" {
		broker = "default"
	}
	want := render.CronWorkflow(cw, broker).PingSources
	client := s.Dynamic.Resource(pingSources()).Namespace(cw.Namespace)
	list, err := client.List(ctx, metav1.ListOptions{LabelSelector: render.LabelCronWorkflow + "=" + cw.Name})
	if err != nil {
		return fmt.Errorf("cron %s/%s: list its PingSources: %w", cw.Namespace, cw.Name, err)
	}
	have := map[string]*unstructured.Unstructured{}
	for i := range list.Items {
		have[list.Items[i].GetName()] = &list.Items[i]
	}
	owner := metav1.OwnerReference{
		APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "CronWorkflow", Name: cw.Name, UID: cw.UID,
		Controller: ptr.To(true),
	}
	var errs []error
	for i := range want {
		p := &want[i]
		p.OwnerReferences = []metav1.OwnerReference{owner}
		// What the cluster's defaulting webhook would add, so that an
		// unchanged spec compares equal.
		p.SetDefaults(ctx)
		if err := s.put(ctx, client, have[p.Name], p, cw); err != nil {
			errs = append(errs, err)
		}
		delete(have, p.Name)
	}
	for name, u := range have {
		// A schedule removed from the spec (the label says whose it is,
		// whoever made it: render's output for the old spec is stale too).
		if err := client.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptrUID(u)}}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("cron %s/%s: delete PingSource %s of a removed schedule: %w", cw.Namespace, cw.Name, name, err))
			continue
		}
		s.logger().InfoContext(ctx, "cron PingSource deleted: its schedule is no longer in the spec", "cronWorkflow", cw.Namespace+"/"+cw.Name, "pingSource", name)
	}
	return errors.Join(errs...)
}

// put creates p, or updates cur (the PingSource of that name the label
// found, nil if none) to it.
func (s *ClusterSchedules) put(ctx context.Context, client dynamic.ResourceInterface, cur *unstructured.Unstructured, p *sourcesv1.PingSource, cw *v1alpha1.CronWorkflow) error {
	ref := cw.Namespace + "/" + cw.Name
	if cur == nil {
		obj, err := toUnstructured(p)
		if err != nil {
			return err
		}
		_, err = client.Create(ctx, obj, metav1.CreateOptions{FieldManager: "zeroflow-controller"})
		if err == nil {
			s.logger().InfoContext(ctx, "cron PingSource created", "cronWorkflow", ref, "pingSource", p.Name, "schedule", p.Spec.Schedule)
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("cron %s: create PingSource %s: %w", ref, p.Name, err)
		}
		// There is one of that name without the CronWorkflow's label.
		if cur, err = client.Get(ctx, p.Name, metav1.GetOptions{}); err != nil {
			return fmt.Errorf("cron %s: read PingSource %s: %w", ref, p.Name, err)
		}
	}
	if l := cur.GetLabels()[render.LabelCronWorkflow]; l != cw.Name {
		// Another CronWorkflow's (names join with '-', so "a" with two
		// schedules and "a-0" with one meet) or no CronWorkflow's: taking
		// it over would fire the wrong thing.
		return fmt.Errorf("cron %s: PingSource %s/%s (%s=%q): %w", ref, cw.Namespace, p.Name, render.LabelCronWorkflow, l, errNameTaken)
	}
	var got sourcesv1.PingSource
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(cur.Object, &got); err != nil {
		return fmt.Errorf("cron %s: read PingSource %s: %w", ref, p.Name, err)
	}
	next := got.DeepCopy()
	next.Spec = p.Spec
	if next.Labels == nil {
		next.Labels = map[string]string{}
	}
	maps.Copy(next.Labels, p.Labels)
	next.OwnerReferences = withOwner(got.OwnerReferences, p.OwnerReferences[0])
	if equality.Semantic.DeepEqual(got.Spec, next.Spec) && equality.Semantic.DeepEqual(got.Labels, next.Labels) && equality.Semantic.DeepEqual(got.OwnerReferences, next.OwnerReferences) {
		return nil
	}
	next.Status = sourcesv1.PingSourceStatus{}
	obj, err := toUnstructured(next)
	if err != nil {
		return err
	}
	// The status is the status subresource's: Update leaves it.
	unstructured.RemoveNestedField(obj.Object, "status")
	if _, err := client.Update(ctx, obj, metav1.UpdateOptions{FieldManager: "zeroflow-controller"}); err != nil {
		return fmt.Errorf("cron %s: update PingSource %s: %w", ref, p.Name, err)
	}
	s.logger().InfoContext(ctx, "cron PingSource updated", "cronWorkflow", ref, "pingSource", p.Name, "schedule", p.Spec.Schedule)
	return nil
}

// Delete deletes the PingSources of the CronWorkflow namespace/name (by
// their label). The garbage collector would too, those it owns; deleting
// them at once stops any firing between the two, and also removes the
// ones GitOps applied that no controller adopted yet.
func (s *ClusterSchedules) Delete(ctx context.Context, namespace, name string) error {
	client := s.Dynamic.Resource(pingSources()).Namespace(namespace)
	list, err := client.List(ctx, metav1.ListOptions{LabelSelector: render.LabelCronWorkflow + "=" + name})
	if err != nil {
		return fmt.Errorf("cron %s/%s: list its PingSources: %w", namespace, name, err)
	}
	var errs []error
	for i := range list.Items {
		u := &list.Items[i]
		if err := client.Delete(ctx, u.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptrUID(u)}}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("cron %s/%s: delete PingSource %s: %w", namespace, name, u.GetName(), err))
			continue
		}
		s.logger().InfoContext(ctx, "cron PingSource deleted with its CronWorkflow", "cronWorkflow", namespace+"/"+name, "pingSource", u.GetName())
	}
	return errors.Join(errs...)
}

func (s *ClusterSchedules) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// withOwner is refs with owner as the one CronWorkflow owner: a reference
// to an earlier CronWorkflow of the same name (deleted and made again
// before the garbage collector came) is replaced, so that the collector
// does not delete what the new one needs.
func withOwner(refs []metav1.OwnerReference, owner metav1.OwnerReference) []metav1.OwnerReference {
	out := make([]metav1.OwnerReference, 0, len(refs)+1)
	for _, r := range refs {
		if isCronWorkflowRef(r) {
			continue
		}
		out = append(out, r)
	}
	return append(out, owner)
}

func isCronWorkflowRef(r metav1.OwnerReference) bool {
	gv, err := schema.ParseGroupVersion(r.APIVersion)
	return err == nil && gv.Group == v1alpha1.SchemeGroupVersion.Group && r.Kind == "CronWorkflow"
}

// ptrUID makes a delete precondition: it deletes the PingSource listed,
// not one made again under its name meanwhile.
func ptrUID(u *unstructured.Unstructured) *types.UID {
	uid := u.GetUID()
	return &uid
}

func toUnstructured(p *sourcesv1.PingSource) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(p)
	if err != nil {
		return nil, fmt.Errorf("PingSource %s: %w", p.Name, err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion(sourcesv1.SchemeGroupVersion.String())
	u.SetKind("PingSource")
	return u, nil
}
