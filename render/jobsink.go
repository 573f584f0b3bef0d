package render

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"
	"knative.dev/eventing/pkg/apis/sinks"
	sinksv1alpha1 "knative.dev/eventing/pkg/apis/sinks/v1alpha1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/tracker"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// Long container and script steps on a cluster (Options.ExecJobs): one
// JobSink per namespace, ExecJobSink, takes the namespace's exec step.run
// events and starts a Kubernetes Job for each, whose pod runs
// `zeroflow function exec-job` on the event JobSink mounts into it. The
// pod sends heartbeats while the step runs and the step.result when it
// ends to the Broker itself, so a step is bound by its template's timeout
// only, never by a Knative request timeout. One JobSink serves every
// step of the namespace, not one per image: the exec runner runs the
// step's command in the zeroflow image, as the exec Service does (the
// template's image is not used yet, docs/deploy.md).

// ExecJobSink is the JobSink of a namespace's container and script steps;
// its Jobs, pods and ServiceAccount share the name.
const ExecJobSink = "zeroflow-exec-job"

// DefaultJobTTLSeconds is how long a finished step Job (its pod, logs and
// event Secret, which the Job owns) is kept before Kubernetes deletes it.
const DefaultJobTTLSeconds = 3600

// execJobTemplate is the Job JobSink copies for each step.run: one pod,
// never restarted or retried, since a second copy of an attempt must not
// run (the controller retries a lost attempt as a new one, with a new
// event and so a new Job).
func execJobTemplate(namespace, broker string, opts Options) *batchv1.Job {
	volume, mount := BrokerTokenVolume(namespace, broker)
	labels := withPartOf(map[string]string{LabelComponent: "exec-job", LabelFunction: engine.FunctionExec})
	container := corev1.Container{
		Name:  "step",
		Image: opts.image(),
		Args:  []string{"function", "exec-job"},
		Env: []corev1.EnvVar{
			{Name: EnvTokenFile, Value: TokenMountPath + "/" + tokenFile},
			{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
		},
		EnvFrom:      []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: ArtifactsSecret}}}},
		VolumeMounts: []corev1.VolumeMount{mount},
	}
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: batchv1.SchemeGroupVersion.String(), Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr.To(int32(0)),
			TTLSecondsAfterFinished: ptr.To(int32(DefaultJobTTLSeconds)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy:      corev1.RestartPolicyNever,
					ServiceAccountName: ExecJobSink,
					// The step needs no API access: only the broker token
					// (projected above) is mounted.
					AutomountServiceAccountToken: ptr.To(false),
					Containers:                   []corev1.Container{container},
					Volumes:                      []corev1.Volume{volume},
				},
			},
		},
	}
}

// ExecJobSinkObjects are what Options.ExecJobs adds to a namespace's
// runtime: the JobSink; the Trigger that routes exec step.run events to
// it (named as the exec Service's step Trigger, which it replaces); a
// SinkBinding that gives its Jobs the Broker as K_SINK; the Jobs'
// ServiceAccount; the EventPolicy that lets only that Trigger start Jobs;
// and the Broker policy that lets the Jobs send their exec heartbeats and
// results, and nothing else.
func ExecJobSinkObjects(namespace, broker string, opts Options) Objects {
	ns := identityNamespace(namespace)
	labels := map[string]string{LabelComponent: "exec-job", LabelFunction: engine.FunctionExec}
	js := sinksv1alpha1.JobSink{
		TypeMeta:   metav1.TypeMeta{APIVersion: sinksv1alpha1.SchemeGroupVersion.String(), Kind: "JobSink"},
		ObjectMeta: metav1.ObjectMeta{Name: ExecJobSink, Namespace: namespace, Labels: withPartOf(labels)},
		Spec:       sinksv1alpha1.JobSinkSpec{Job: execJobTemplate(namespace, broker, opts)},
	}
	fn := engine.FunctionExec
	to := duckv1.Destination{Ref: &duckv1.KReference{APIVersion: sinksv1alpha1.SchemeGroupVersion.String(), Kind: "JobSink", Name: ExecJobSink}}
	trig := trigger(namespace, stepTriggerName(fn), broker,
		map[string]string{LabelComponent: "step", LabelFunction: fn},
		eventingv1.TriggerFilterAttributes{"type": events.TypeStepRun, events.ExtFunction: fn}, to)
	binding := sourcesv1.SinkBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcesv1.SchemeGroupVersion.String(), Kind: "SinkBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: ExecJobSink, Namespace: namespace, Labels: withPartOf(labels)},
		Spec: sourcesv1.SinkBindingSpec{
			SourceSpec: duckv1.SourceSpec{Sink: brokerDestination(broker)},
			// JobSink labels every Job it makes with its name.
			BindingSpec: duckv1.BindingSpec{Subject: tracker.Reference{
				APIVersion: batchv1.SchemeGroupVersion.String(), Kind: "Job", Namespace: namespace,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{sinks.JobSinkNameLabel: ExecJobSink}},
			}},
		},
	}
	sa := corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   metav1.ObjectMeta{Name: ExecJobSink, Namespace: namespace, Labels: withPartOf(labels)},
		AutomountServiceAccountToken: ptr.To(false),
	}
	sinkPolicy := eventingv1alpha1.EventPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: eventingv1alpha1.SchemeGroupVersion.String(), Kind: "EventPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: ExecJobSink, Namespace: namespace, Labels: withPartOf(labels)},
		Spec: eventingv1alpha1.EventPolicySpec{
			To:      []eventingv1alpha1.EventPolicySpecTo{{Ref: &eventingv1alpha1.EventPolicyToReference{APIVersion: sinksv1alpha1.SchemeGroupVersion.String(), Kind: "JobSink", Name: ExecJobSink}}},
			From:    []eventingv1alpha1.EventPolicySpecFrom{fromTrigger(trig.Name)},
			Filters: []eventingv1.SubscriptionsAPIFilter{exact("type", events.TypeStepRun, events.ExtFunction, fn)},
		},
	}
	brokerPolicy := eventPolicy(namespace, childName(ExecJobSink, broker), broker, labels,
		[]eventingv1alpha1.EventPolicySpecFrom{fromSub(sdk.ServiceAccountSubject(ns, ExecJobSink))},
		anyOf(exact("type", events.TypeStepResult, events.ExtFunction, fn), exact("type", events.TypeStepHeartbeat, events.ExtFunction, fn)))
	return Objects{
		ServiceAccounts: []corev1.ServiceAccount{sa},
		EventPolicies:   []eventingv1alpha1.EventPolicy{sinkPolicy, brokerPolicy},
		SinkBindings:    []sourcesv1.SinkBinding{binding},
		JobSinks:        []sinksv1alpha1.JobSink{js},
		Triggers:        []eventingv1.Trigger{trig},
	}
}
