package manifests_test

import (
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

// unresolved lists the references between objs that name nothing in objs:
// each pod's service account, ConfigMap volumes and Secret sources; each
// binding's Role and service accounts; each Trigger's Broker and
// subscriber; each source's sink and subject; each Broker's dead-letter
// sink and config.
func unresolved(objs []object) []string {
	have := map[string]bool{}
	for _, o := range objs {
		have[o.kind+"/"+o.name] = true
	}
	var missing []string
	need := func(from object, kind, name string) {
		if name != "" && !have[kind+"/"+name] {
			missing = append(missing, fmt.Sprintf("%s %s refers to %s %s, which is not there", from.kind, from.name, kind, name))
		}
	}
	pod := func(from object, spec corev1.PodSpec) {
		need(from, "ServiceAccount", spec.ServiceAccountName)
		for _, v := range spec.Volumes {
			if v.ConfigMap != nil {
				need(from, "ConfigMap", v.ConfigMap.Name)
			}
		}
		for _, c := range spec.Containers {
			// An optional reference may name nothing: the pod starts
			// without it (e.g. the controller's step-token key).
			for _, e := range c.EnvFrom {
				if e.SecretRef != nil && !isTrue(e.SecretRef.Optional) {
					need(from, "Secret", e.SecretRef.Name)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && !isTrue(e.ValueFrom.SecretKeyRef.Optional) {
					need(from, "Secret", e.ValueFrom.SecretKeyRef.Name)
				}
			}
		}
	}
	dest := func(from object, d *duckv1.Destination) {
		if d != nil && d.Ref != nil {
			need(from, d.Ref.Kind, d.Ref.Name)
		}
	}
	for _, o := range objs {
		switch v := o.value.(type) {
		case *servingv1.Service:
			pod(o, v.Spec.Template.Spec.PodSpec)
		case *appsv1.Deployment:
			pod(o, v.Spec.Template.Spec)
		case *batchv1.Job:
			pod(o, v.Spec.Template.Spec)
		case *rbacv1.RoleBinding:
			need(o, v.RoleRef.Kind, v.RoleRef.Name)
			for _, s := range v.Subjects {
				need(o, s.Kind, s.Name)
			}
		case *eventingv1.Trigger:
			need(o, "Broker", v.Spec.Broker)
			dest(o, &v.Spec.Subscriber)
		case *eventingv1.Broker:
			if v.Spec.Config != nil {
				need(o, v.Spec.Config.Kind, v.Spec.Config.Name)
			}
			if v.Spec.Delivery != nil {
				dest(o, v.Spec.Delivery.DeadLetterSink)
			}
		case *sourcesv1.SinkBinding:
			dest(o, &v.Spec.Sink)
			need(o, v.Spec.Subject.Kind, v.Spec.Subject.Name)
		case *sourcesv1.PingSource:
			dest(o, &v.Spec.Sink)
		}
	}
	sort.Strings(missing)
	return missing
}

func isTrue(b *bool) bool { return b != nil && *b }
