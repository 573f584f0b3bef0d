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

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"
	"knative.dev/eventing/pkg/apis/feature"
	"knative.dev/eventing/pkg/apis/sinks"
	sinksv1alpha1 "knative.dev/eventing/pkg/apis/sinks/v1alpha1"
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

// placeholderNamespace stands in for the namespace of an object that names
// none: it gets one when applied (kubectl -n, kustomize's namespace).
const placeholderNamespace = "default"

// Object defaults and validates a copy of obj (a pointer to one of the
// types Decode returns) as the cluster would on create. The error lists
// every problem with its field path.
func Object(ctx context.Context, obj any) error {
	ro, ok := obj.(runtime.Object)
	if !ok {
		return fmt.Errorf("%T: %w", obj, ErrUnknownKind)
	}
	obj = ro.DeepCopyObject()
	if m, ok := obj.(metav1.Object); ok && m.GetNamespace() == "" && namespaced(obj) {
		m.SetNamespace(placeholderNamespace)
	}
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		return configMap(o)
	case *corev1.Secret, *corev1.ServiceAccount, *corev1.Namespace, *corev1.Service, *appsv1.Deployment, *batchv1.Job,
		*rbacv1.Role, *rbacv1.RoleBinding, *rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding, *networkingv1.NetworkPolicy:
		return kubernetes(obj)
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
	// Knative's default feature flags (what a cluster runs with an
	// untouched config-features, delivery-timeout among them, which step
	// Triggers use): what zeroflow renders must pass there. But for
	// EventPolicies, which Eventing refuses to create unless
	// authentication-oidc is on: zeroflow ships them for clusters that turn
	// it on (docs/security.md).
	flags := feature.FromContextOrDefaults(context.Background())
	if _, ok := o.(*eventingv1alpha1.EventPolicy); ok {
		flags[feature.OIDCAuthentication] = feature.Enabled
	}
	ctx = feature.ToContext(ctx, flags)
	if _, ok := o.(*sinksv1alpha1.JobSink); ok {
		ctx = sinks.WithConfig(ctx, &sinks.Config{KubeClient: jobDryRunClient()})
	}
	o.SetDefaults(ctx)
	if fe := o.Validate(ctx).Filter(apis.ErrorLevel); fe != nil {
		return fmt.Errorf("%s", strings.TrimSpace(fe.Error()))
	}
	return nil
}

// jobDryRunClient stands in for the API server that a JobSink's Validate
// asks to create its Job in dry run: no kube-apiserver with batch/v1 runs
// here, so the create checks the Job as kubernetes() checks a shipped one
// and answers 422 with the problems, as the server would.
func jobDryRunClient() *fake.Clientset {
	client := fake.NewClientset()
	client.PrependReactor("create", "jobs", func(action k8stesting.Action) (bool, runtime.Object, error) {
		job := action.(k8stesting.CreateAction).GetObject().(*batchv1.Job).DeepCopy()
		if job.Namespace == "" {
			job.Namespace = action.GetNamespace()
		}
		if err := kubernetes(job); err != nil {
			return true, nil, apierrors.NewInvalid(batchv1.SchemeGroupVersion.WithKind("Job").GroupKind(), job.Name, fieldErrors(err))
		}
		return true, job, nil
	})
	return client
}

// fieldErrors are the field errors kubernetes() aggregated.
func fieldErrors(err error) field.ErrorList {
	var list field.ErrorList
	if agg, ok := err.(interface{ Errors() []error }); ok {
		for _, e := range agg.Errors() {
			if fe, ok := e.(*field.Error); ok {
				list = append(list, fe)
			}
		}
	}
	if len(list) == 0 {
		list = field.ErrorList{field.InternalError(nil, err)}
	}
	return list
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
	case "v1/Secret":
		obj = &corev1.Secret{}
	case "v1/ServiceAccount":
		obj = &corev1.ServiceAccount{}
	case "v1/Namespace":
		obj = &corev1.Namespace{}
	case "v1/Service":
		obj = &corev1.Service{}
	case "apps/v1/Deployment":
		obj = &appsv1.Deployment{}
	case "batch/v1/Job":
		obj = &batchv1.Job{}
	case "rbac.authorization.k8s.io/v1/Role":
		obj = &rbacv1.Role{}
	case "rbac.authorization.k8s.io/v1/RoleBinding":
		obj = &rbacv1.RoleBinding{}
	case "rbac.authorization.k8s.io/v1/ClusterRole":
		obj = &rbacv1.ClusterRole{}
	case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
		obj = &rbacv1.ClusterRoleBinding{}
	case "serving.knative.dev/v1/Service":
		obj = &servingv1.Service{}
	case "eventing.knative.dev/v1/Trigger":
		obj = &eventingv1.Trigger{}
	case "eventing.knative.dev/v1/Broker":
		obj = &eventingv1.Broker{}
	case "eventing.knative.dev/v1alpha1/EventPolicy":
		obj = &eventingv1alpha1.EventPolicy{}
	case "networking.k8s.io/v1/NetworkPolicy":
		obj = &networkingv1.NetworkPolicy{}
	case "sources.knative.dev/v1/SinkBinding":
		obj = &sourcesv1.SinkBinding{}
	case "sources.knative.dev/v1/PingSource":
		obj = &sourcesv1.PingSource{}
	case "sources.knative.dev/v1/ApiServerSource":
		obj = &sourcesv1.ApiServerSource{}
	case "sinks.knative.dev/v1alpha1/JobSink":
		obj = &sinksv1alpha1.JobSink{}
	default:
		return nil, fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, ErrUnknownKind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
	}
	return obj, nil
}

// namespaced reports whether obj's kind lives in a namespace.
func namespaced(obj any) bool {
	switch obj.(type) {
	case *corev1.Namespace, *rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding:
		return false
	}
	return true
}

// kubernetes checks the Kubernetes kinds whose own validation lives in
// k8s.io/kubernetes, which cannot be imported: their metadata, and the
// mistakes that would leave them doing nothing (a Deployment whose selector
// does not select its pods, a Service without ports, a binding without a
// role, a rule without verbs).
func kubernetes(obj any) error {
	m := obj.(metav1.Object)
	errs := meta(m, namespaced(obj))
	switch o := obj.(type) {
	case *appsv1.Deployment:
		p := field.NewPath("spec")
		if o.Spec.Selector == nil || len(o.Spec.Selector.MatchLabels) == 0 {
			errs = append(errs, field.Required(p.Child("selector", "matchLabels"), ""))
		}
		var selected map[string]string
		if o.Spec.Selector != nil {
			selected = o.Spec.Selector.MatchLabels
		}
		for k, v := range selected {
			if o.Spec.Template.Labels[k] != v {
				errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), o.Spec.Template.Labels, fmt.Sprintf("does not match the selector %s=%s", k, v)))
			}
		}
		if len(o.Spec.Template.Spec.Containers) == 0 {
			errs = append(errs, field.Required(p.Child("template", "spec", "containers"), ""))
		}
		for i, c := range o.Spec.Template.Spec.Containers {
			if c.Image == "" {
				errs = append(errs, field.Required(p.Child("template", "spec", "containers").Index(i).Child("image"), ""))
			}
		}
	case *batchv1.Job:
		if len(o.Spec.Template.Spec.Containers) == 0 {
			errs = append(errs, field.Required(field.NewPath("spec", "template", "spec", "containers"), ""))
		}
		if p := o.Spec.Template.Spec.RestartPolicy; p != corev1.RestartPolicyNever && p != corev1.RestartPolicyOnFailure {
			errs = append(errs, field.NotSupported(field.NewPath("spec", "template", "spec", "restartPolicy"), p, []corev1.RestartPolicy{corev1.RestartPolicyNever, corev1.RestartPolicyOnFailure}))
		}
	case *corev1.Service:
		if len(o.Spec.Ports) == 0 {
			errs = append(errs, field.Required(field.NewPath("spec", "ports"), ""))
		}
	case *networkingv1.NetworkPolicy:
		errs = append(errs, networkPolicy(o)...)
	case *rbacv1.Role:
		errs = append(errs, rules(o.Rules)...)
	case *rbacv1.ClusterRole:
		errs = append(errs, rules(o.Rules)...)
	case *rbacv1.RoleBinding:
		errs = append(errs, roleRef(o.RoleRef, o.Subjects)...)
	case *rbacv1.ClusterRoleBinding:
		errs = append(errs, roleRef(o.RoleRef, o.Subjects)...)
	}
	return errs.ToAggregate()
}

func rules(rs []rbacv1.PolicyRule) field.ErrorList {
	var errs field.ErrorList
	for i, r := range rs {
		p := field.NewPath("rules").Index(i)
		if len(r.Verbs) == 0 {
			errs = append(errs, field.Required(p.Child("verbs"), ""))
		}
		for _, v := range r.Verbs {
			switch v {
			case "*":
				errs = append(errs, field.Forbidden(p.Child("verbs"), "zeroflow grants named verbs only (least privilege)"))
			case "impersonate", "escalate", "bind":
				// Each lets its holder gain rights it was not given: only
				// on named objects.
				if len(r.ResourceNames) == 0 {
					errs = append(errs, field.Required(p.Child("resourceNames"), fmt.Sprintf("%q is granted on named objects only (least privilege)", v)))
				}
			}
		}
		for _, res := range r.Resources {
			if res == "*" || strings.HasSuffix(res, "/*") {
				errs = append(errs, field.Forbidden(p.Child("resources"), "zeroflow grants named resources only (least privilege)"))
			}
		}
		for _, g := range r.APIGroups {
			if g == "*" {
				errs = append(errs, field.Forbidden(p.Child("apiGroups"), "zeroflow grants named API groups only (least privilege)"))
			}
		}
		if len(r.Resources) == 0 && len(r.NonResourceURLs) == 0 {
			errs = append(errs, field.Required(p.Child("resources"), ""))
		}
	}
	return errs
}

func roleRef(ref rbacv1.RoleRef, subjects []rbacv1.Subject) field.ErrorList {
	var errs field.ErrorList
	if ref.Name == "" || (ref.Kind != "Role" && ref.Kind != "ClusterRole") {
		errs = append(errs, field.Invalid(field.NewPath("roleRef"), ref, "names a Role or ClusterRole"))
	}
	if ref.Name == "cluster-admin" {
		errs = append(errs, field.Forbidden(field.NewPath("roleRef", "name"), "zeroflow never binds cluster-admin"))
	}
	if len(subjects) == 0 {
		errs = append(errs, field.Required(field.NewPath("subjects"), ""))
	}
	return errs
}

// networkPolicy checks the mistakes that make a NetworkPolicy wall nothing
// or everything: policy types it does not know, a peer with no selector
// (which Kubernetes rejects), a bad selector.
func networkPolicy(np *networkingv1.NetworkPolicy) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec")
	errs = append(errs, labelSelector(&np.Spec.PodSelector, p.Child("podSelector"))...)
	for i, t := range np.Spec.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			errs = append(errs, field.NotSupported(p.Child("policyTypes").Index(i), t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}))
		}
	}
	for i, rule := range np.Spec.Ingress {
		for j, peer := range rule.From {
			pp := p.Child("ingress").Index(i).Child("from").Index(j)
			if peer.PodSelector == nil && peer.NamespaceSelector == nil && peer.IPBlock == nil {
				errs = append(errs, field.Required(pp, "a peer needs a podSelector, namespaceSelector or ipBlock"))
			}
			errs = append(errs, labelSelector(peer.PodSelector, pp.Child("podSelector"))...)
			errs = append(errs, labelSelector(peer.NamespaceSelector, pp.Child("namespaceSelector"))...)
		}
	}
	return errs
}

func labelSelector(s *metav1.LabelSelector, p *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	if _, err := metav1.LabelSelectorAsSelector(s); err != nil {
		return field.ErrorList{field.Invalid(p, s, err.Error())}
	}
	return nil
}
