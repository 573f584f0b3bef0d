// Package knativecheck validates the Kubernetes and Knative objects zeroflow
// renders and ships, as a cluster's admission webhooks would: Knative's own
// SetDefaults and Validate, at apis.ErrorLevel, and the Kubernetes object
// metadata rules. No cluster can run here, so this is how the cluster path
// is proven by construction.
package knativecheck

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/apis/feature"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/yaml"
)

// knativeObject is what Knative's types implement.
type knativeObject interface {
	apis.Defaultable
	apis.Validatable
	metav1.Object
}

// ErrUnknownKind is returned for a kind this package does not check.
var ErrUnknownKind = errors.New("kind not checked")

// Object defaults and validates obj (a pointer to one of the types Decode
// returns) as the cluster would on create. The error lists every problem
// with its field path.
func Object(ctx context.Context, obj any) error {
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		return configMap(o)
	case knativeObject:
		return knative(ctx, o)
	}
	return fmt.Errorf("%T: %w", obj, ErrUnknownKind)
}

func knative(ctx context.Context, o knativeObject) error {
	if errs := meta(o, true); len(errs) > 0 {
		return errs.ToAggregate()
	}
	ctx = apis.WithinCreate(ctx)
	ctx = apis.WithinParent(ctx, metav1.ObjectMeta{Name: o.GetName(), Namespace: o.GetNamespace()})
	// No Knative feature flags: what zeroflow renders must pass on a
	// cluster with Knative's defaults.
	ctx = feature.ToContext(ctx, feature.Flags{})
	o.SetDefaults(ctx)
	if fe := o.Validate(ctx).Filter(apis.ErrorLevel); fe != nil {
		return fmt.Errorf("%s", strings.TrimSpace(fe.Error()))
	}
	return nil
}

func configMap(cm *corev1.ConfigMap) error {
	errs := meta(cm, true)
	for k := range cm.Data {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(field.NewPath("data").Key(k), k, msg))
		}
	}
	if size := configMapSize(cm); size > corev1.MaxSecretSize {
		errs = append(errs, field.TooLong(field.NewPath("data"), "", corev1.MaxSecretSize))
	}
	return errs.ToAggregate()
}

func configMapSize(cm *corev1.ConfigMap) int {
	n := 0
	for k, v := range cm.Data {
		n += len(k) + len(v)
	}
	return n
}

func meta(o metav1.Object, namespaced bool) field.ErrorList {
	om := metav1.ObjectMeta{Name: o.GetName(), Namespace: o.GetNamespace(), Labels: o.GetLabels(), Annotations: o.GetAnnotations(), GenerateName: o.GetGenerateName()}
	return apivalidation.ValidateObjectMeta(&om, namespaced, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
}

// Decode decodes one YAML document of a kind this package checks into its
// Go type, strictly (unknown fields are errors).
func Decode(doc []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, fmt.Errorf("read apiVersion and kind: %w", err)
	}
	var obj any
	switch tm.APIVersion + "/" + tm.Kind {
	case "v1/ConfigMap":
		obj = &corev1.ConfigMap{}
	case "serving.knative.dev/v1/Service":
		obj = &servingv1.Service{}
	case "eventing.knative.dev/v1/Trigger":
		obj = &eventingv1.Trigger{}
	case "eventing.knative.dev/v1/Broker":
		obj = &eventingv1.Broker{}
	case "sources.knative.dev/v1/SinkBinding":
		obj = &sourcesv1.SinkBinding{}
	case "sources.knative.dev/v1/PingSource":
		obj = &sourcesv1.PingSource{}
	case "sources.knative.dev/v1/ApiServerSource":
		obj = &sourcesv1.ApiServerSource{}
	default:
		return nil, fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, ErrUnknownKind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
	}
	return obj, nil
}
