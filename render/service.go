package render

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"knative.dev/eventing/pkg/auth"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/tracker"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/yaml"
)

// Labels on every rendered object.
const (
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelComponent = "zeroflow.dev/component"
	partOf         = "zeroflow"
)

// Knative's autoscaling annotations.
const (
	AnnotationMinScale = "autoscaling.knative.dev/min-scale"
	AnnotationMaxScale = "autoscaling.knative.dev/max-scale"
	AnnotationTarget   = "autoscaling.knative.dev/target"
)

// Where a function finds the spec its ConfigMap carries.
const (
	specMountPath = "/etc/zeroflow"
	specKey       = "spec.yaml"
	// EnvSpecFile names the spec file for `zeroflow function`.
	EnvSpecFile = "ZEROFLOW_SPEC_FILE"
	// HealthPath is the SDK's readiness endpoint.
	HealthPath = "/health/readiness"
)

// function describes one of zeroflow's own functions as a Knative Service.
type function struct {
	name, namespace string
	labels          map[string]string
	// args are `zeroflow` arguments, e.g. ["function", "webhook"].
	args []string
	// spec, when set, is the ConfigMap mounted for EnvSpecFile.
	spec string
	// serviceAccount is the identity the function acts with.
	serviceAccount string
	// maxScale bounds the instances ("" leaves Knative's default).
	maxScale string
	// concurrency is containerConcurrency: 0 lets an instance take any
	// number of requests at once (the autoscaler still aims at target).
	concurrency int64
	timeout     int64
	// envFromSecret, when set, is a Secret whose keys become environment
	// variables (the artifact store's location and credentials).
	envFromSecret string
	// envFromSecretOptional lets the Service start without that Secret.
	envFromSecretOptional bool
	// callers, when set, makes the function check the audience token of
	// each request: these subjects (the Triggers that deliver to it) may
	// call it. A public function (a webhook) has none.
	callers []string
	// broker, when set, is the Broker the function posts to itself: it
	// gets a token for the Broker's audience.
	broker string
	// audience is the audience callers' tokens carry; default its Knative
	// Service's.
	audience string
}

// tokenFile is the projected token's file under TokenMountPath.
const tokenFile = "token"

// tokenExpirationSeconds is the projected token's lifetime; the kubelet
// renews it at 80%, and EnvTokenFile is re-read as it rotates.
const tokenExpirationSeconds = 3600

// identity is the environment, volume and mount of a function's sender
// identity: the audience and callers it checks, and its broker token.
func (f function) identity(opts Options) ([]corev1.EnvVar, []corev1.Volume, []corev1.VolumeMount) {
	ns := identityNamespace(f.namespace)
	var env []corev1.EnvVar
	if len(f.callers) > 0 {
		aud := f.audience
		if aud == "" {
			aud = ServiceAudience(ns, f.name)
		}
		env = append(env,
			corev1.EnvVar{Name: EnvAudience, Value: aud},
			corev1.EnvVar{Name: EnvAllowedSubjects, Value: allowedSubjects(f.callers...)},
			corev1.EnvVar{Name: EnvIssuer, Value: opts.issuer()})
	}
	if f.broker == "" {
		return env, nil, nil
	}
	env = append(env, corev1.EnvVar{Name: EnvTokenFile, Value: TokenMountPath + "/" + tokenFile})
	volume, mount := BrokerTokenVolume(ns, f.broker)
	return env, []corev1.Volume{volume}, []corev1.VolumeMount{mount}
}

// BrokerTokenVolume is the projected ServiceAccount token a pod posts to
// broker with (audience BrokerAudience), and its mount at TokenMountPath.
func BrokerTokenVolume(namespace, broker string) (corev1.Volume, corev1.VolumeMount) {
	expiration := int64(tokenExpirationSeconds)
	v := corev1.Volume{Name: "oidc-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
			Audience: BrokerAudience(identityNamespace(namespace), broker), ExpirationSeconds: &expiration, Path: tokenFile,
		}}},
	}}}
	return v, corev1.VolumeMount{Name: v.Name, MountPath: TokenMountPath, ReadOnly: true}
}

// service renders a function: it scales to zero, aims at 100 requests in
// flight per instance (Knative's default target), and is ready when the
// SDK says so.
func (f function) service(opts Options) servingv1.Service {
	annotations := map[string]string{AnnotationMinScale: "0", AnnotationTarget: "100"}
	if f.maxScale != "" {
		annotations[AnnotationMaxScale] = f.maxScale
	}
	container := corev1.Container{
		Name:           "function",
		Image:          opts.image(),
		Args:           f.args,
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: HealthPath}}},
	}
	if f.envFromSecret != "" {
		src := &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: f.envFromSecret}}
		if f.envFromSecretOptional {
			src.Optional = ptr.To(true)
		}
		container.EnvFrom = []corev1.EnvFromSource{{SecretRef: src}}
	}
	var volumes []corev1.Volume
	if f.spec != "" {
		container.Env = []corev1.EnvVar{{Name: EnvSpecFile, Value: specMountPath + "/" + specKey}}
		container.VolumeMounts = []corev1.VolumeMount{{Name: "spec", MountPath: specMountPath, ReadOnly: true}}
		volumes = []corev1.Volume{{Name: "spec", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: f.spec}}}}}
	}
	env, idVolumes, mounts := f.identity(opts)
	container.Env = append(container.Env, env...)
	container.VolumeMounts = append(container.VolumeMounts, mounts...)
	volumes = append(volumes, idVolumes...)
	concurrency, timeout := f.concurrency, f.timeout
	if timeout == 0 {
		timeout = 300
	}
	return servingv1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: servingv1.SchemeGroupVersion.String(), Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: f.name, Namespace: f.namespace, Labels: withPartOf(f.labels)},
		Spec: servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: withPartOf(f.labels), Annotations: annotations},
			Spec: servingv1.RevisionSpec{
				PodSpec:              corev1.PodSpec{ServiceAccountName: f.serviceAccount, Containers: []corev1.Container{container}, Volumes: volumes},
				ContainerConcurrency: &concurrency,
				TimeoutSeconds:       &timeout,
			},
		}}},
	}
}

// sinkBinding gives the function's Service the broker's address as K_SINK.
func (f function) sinkBinding(broker string) sourcesv1.SinkBinding {
	return sourcesv1.SinkBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcesv1.SchemeGroupVersion.String(), Kind: "SinkBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: f.name, Namespace: f.namespace, Labels: withPartOf(f.labels)},
		Spec: sourcesv1.SinkBindingSpec{
			SourceSpec: duckv1.SourceSpec{Sink: brokerDestination(broker)},
			BindingSpec: duckv1.BindingSpec{Subject: tracker.Reference{
				APIVersion: servingv1.SchemeGroupVersion.String(), Kind: "Service", Name: f.name, Namespace: f.namespace,
			}},
		},
	}
}

// specConfigMap carries obj (an EventSource or a Sensor) as YAML, for the
// function that serves it.
func specConfigMap(name, namespace string, labels map[string]string, obj any) (corev1.ConfigMap, error) {
	b, err := yaml.Marshal(obj)
	if err != nil {
		return corev1.ConfigMap{}, fmt.Errorf("encode the spec of %s: %w", name, err)
	}
	return corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: withPartOf(labels)},
		Data:       map[string]string{specKey: string(b)},
	}, nil
}

// withAudience gives a destination in namespace the OIDC audience of the
// Service it names, which Knative cannot learn from a Service (neither a
// Knative nor a Kubernetes Service publishes one): the token Knative
// delivers with is for that audience, and the function checks it.
func withAudience(namespace string, d duckv1.Destination) duckv1.Destination {
	if d.Ref == nil || d.Ref.Kind != "Service" {
		return d
	}
	ns := identityNamespace(namespace)
	var aud string
	switch d.Ref.APIVersion {
	case servingv1.SchemeGroupVersion.String():
		aud = ServiceAudience(ns, d.Ref.Name)
	case "v1":
		aud = auth.GetAudienceDirect(coreServiceGVK, ns, d.Ref.Name)
	default:
		return d
	}
	d.Audience = &aud
	return d
}

// serviceDestination addresses the Knative Service name in the Trigger's
// namespace, at path when it is not "".
func serviceDestination(name, path string) duckv1.Destination {
	d := duckv1.Destination{Ref: &duckv1.KReference{APIVersion: servingv1.SchemeGroupVersion.String(), Kind: "Service", Name: name}}
	if path != "" {
		d.URI = &apis.URL{Path: path}
	}
	return d
}

// coreServiceDestination addresses a Kubernetes Service (the controller is
// a Deployment behind one).
func coreServiceDestination(name string) duckv1.Destination {
	return duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "v1", Kind: "Service", Name: name}}
}

func brokerDestination(broker string) duckv1.Destination {
	return duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: broker}}
}

func withPartOf(labels map[string]string) map[string]string {
	out := make(map[string]string, len(labels)+1)
	for k, v := range labels {
		out[k] = v
	}
	out[LabelPartOf] = partOf
	return out
}
