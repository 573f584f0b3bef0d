package render_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"knative.dev/eventing/pkg/apis/sinks"
	"knative.dev/eventing/pkg/auth"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/knativecheck"
	"github.com/zeroflow-dev/zeroflow/internal/kubeapi"
	"github.com/zeroflow-dev/zeroflow/render"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// With ExecJobs, exec's step.run events go to a JobSink instead of the
// exec Service: no exec Service is left, the exec step Trigger names the
// JobSink, and the other built-ins are as before.
func TestExecJobsRouteExecStepsToTheJobSink(t *testing.T) {
	objs := render.Runtime(ns, "default", render.Options{ExecJobs: true})
	plain := render.Runtime(ns, "default", render.Options{})
	for _, s := range objs.Services {
		if s.Name == render.BuiltinService("exec") {
			t.Errorf("the exec Service is still rendered")
		}
	}
	if len(objs.Services) != len(plain.Services)-1 {
		t.Errorf("%d Services, want the %d of the plain runtime but exec's", len(objs.Services), len(plain.Services)-1)
	}
	if len(objs.JobSinks) != 1 || objs.JobSinks[0].Name != render.ExecJobSink || objs.JobSinks[0].Namespace != ns {
		t.Fatalf("JobSinks %+v", objs.JobSinks)
	}
	var routed int
	for _, tr := range objs.Triggers {
		if tr.Spec.Filter.Attributes["type"] != events.TypeStepRun || tr.Spec.Filter.Attributes[events.ExtFunction] != "exec" {
			continue
		}
		routed++
		ref := tr.Spec.Subscriber.Ref
		if tr.Name != "zeroflow-step-exec" || ref == nil || ref.Kind != "JobSink" || ref.APIVersion != "sinks.knative.dev/v1alpha1" || ref.Name != render.ExecJobSink {
			t.Errorf("exec step Trigger %s goes to %+v", tr.Name, tr.Spec.Subscriber)
		}
	}
	if routed != 1 {
		t.Errorf("%d Triggers take exec step.run events, want 1", routed)
	}

	job := objs.JobSinks[0].Spec.Job
	pod := job.Spec.Template.Spec
	if job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit != 0 || pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("a step's Job may run a second copy: backoffLimit %v, restartPolicy %s", job.Spec.BackoffLimit, pod.RestartPolicy)
	}
	if job.Spec.TTLSecondsAfterFinished == nil || *job.Spec.TTLSecondsAfterFinished != render.DefaultJobTTLSeconds {
		t.Errorf("ttlSecondsAfterFinished %v", job.Spec.TTLSecondsAfterFinished)
	}
	if pod.ServiceAccountName != render.ExecJobSink || pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("pod identity: %s, automount %v", pod.ServiceAccountName, pod.AutomountServiceAccountToken)
	}
	c := pod.Containers[0]
	if strings.Join(c.Args, " ") != "function exec-job" || c.Image != render.DefaultImage {
		t.Errorf("container runs %s %v", c.Image, c.Args)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != render.ArtifactsSecret {
		t.Errorf("envFrom %+v", c.EnvFrom)
	}
	if aud := pod.Volumes[0].Projected.Sources[0].ServiceAccountToken.Audience; aud != render.BrokerAudience(ns, "default") {
		t.Errorf("broker token audience %s", aud)
	}
	var binding bool
	for _, b := range objs.SinkBindings {
		if b.Name != render.ExecJobSink {
			continue
		}
		binding = true
		subj := b.Spec.Subject
		if subj.Kind != "Job" || subj.APIVersion != "batch/v1" || subj.Selector == nil || subj.Selector.MatchLabels[sinks.JobSinkNameLabel] != render.ExecJobSink {
			t.Errorf("the SinkBinding does not select the JobSink's Jobs: %+v", subj)
		}
		if b.Spec.Sink.Ref == nil || b.Spec.Sink.Ref.Kind != "Broker" || b.Spec.Sink.Ref.Name != "default" {
			t.Errorf("the Jobs' K_SINK is %+v", b.Spec.Sink)
		}
	}
	if !binding {
		t.Error("no SinkBinding gives the Jobs K_SINK")
	}
}

// Every object ExecJobs adds passes Knative's SetDefaults and Validate
// (the JobSink's own Validate, which creates its Job in dry run), before
// and after its YAML, and the YAML is the golden file's.
func TestExecJobSinkObjectsAreValid(t *testing.T) {
	objs := render.ExecJobSinkObjects(ns, "default", render.Options{})
	for _, o := range objs.List() {
		if err := knativecheck.Object(context.Background(), o); err != nil {
			t.Errorf("%T: %v", o, err)
		}
	}
	out, err := objs.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for i, doc := range strings.Split(string(out), "\n---\n") {
		checkDoc(t, fmt.Sprintf("exec-jobs document %d", i+1), []byte(doc))
	}
	const golden = "testdata/exec-jobs.yaml"
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("the ExecJobs objects differ from %s (go test ./render/ -run TestExecJobSinkObjectsAreValid -update if meant):\n%s", golden, out)
	}
}

// The EventPolicies close both ends: only the exec step Trigger may start
// a Job, and only with an exec step.run; the Jobs' ServiceAccount may send
// exec heartbeats and results to the Broker and nothing else (not a
// step.run, which would start another Job, nor another function's
// result), as Knative reads the policies.
func TestWhoMayStartAndAnswerAJob(t *testing.T) {
	objs := render.Runtime(ns, "default", render.Options{ExecJobs: true})
	byTarget := map[string][]auth.SubjectsWithFilters{}
	for i := range objs.EventPolicies {
		p := &objs.EventPolicies[i]
		target := p.Spec.To[0].Ref.Kind + "/" + p.Spec.To[0].Ref.Name
		byTarget[target] = append(byTarget[target], auth.SubjectsWithFilters{Subjects: render.EventPolicySubjects(p), Filters: p.Spec.Filters})
	}
	sink, broker := byTarget["JobSink/"+render.ExecJobSink], byTarget["Broker/default"]
	if len(sink) == 0 {
		t.Fatal("no EventPolicy names the JobSink: anyone in the cluster could run commands through it")
	}
	stepExec := render.TriggerSubject(ns, "zeroflow-step-exec")
	job := sdk.ServiceAccountSubject(ns, render.ExecJobSink)
	controller := sdk.ServiceAccountSubject(ns, render.ControllerServiceAccount)
	for _, tc := range []struct {
		name, sub, typ, fn string
		to                 []auth.SubjectsWithFilters
		want               bool
	}{
		{"the exec Trigger starts a Job", stepExec, events.TypeStepRun, "exec", sink, true},
		{"the exec Trigger starts no Job for another function", stepExec, events.TypeStepRun, "http", sink, false},
		{"the exec Trigger sends the JobSink nothing else", stepExec, events.TypeWorkflowSubmit, "exec", sink, false},
		{"the controller cannot skip the Trigger", controller, events.TypeStepRun, "exec", sink, false},
		{"another pod cannot start a Job", sdk.ServiceAccountSubject(ns, "default"), events.TypeStepRun, "exec", sink, false},
		{"a Job of another namespace cannot start one", sdk.ServiceAccountSubject("other", render.ExecJobSink), events.TypeStepRun, "exec", sink, false},
		{"a Job sends its result", job, events.TypeStepResult, "exec", broker, true},
		{"a Job sends heartbeats", job, events.TypeStepHeartbeat, "exec", broker, true},
		{"a Job forges no http result", job, events.TypeStepResult, "http", broker, false},
		{"a Job runs no step", job, events.TypeStepRun, "exec", broker, false},
		{"a Job submits no workflow", job, events.TypeWorkflowSubmit, "", broker, false},
		{"a Job of another namespace sends no result", sdk.ServiceAccountSubject("other", render.ExecJobSink), events.TypeStepResult, "exec", broker, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := cloudevents.NewEvent()
			ev.SetID("1")
			ev.SetSource("/test")
			ev.SetType(tc.typ)
			if tc.fn != "" {
				ev.SetExtension(events.ExtFunction, tc.fn)
			}
			if got := auth.SubjectAndFiltersPass(context.Background(), tc.sub, tc.to, &ev, zap.NewNop().Sugar()); got != tc.want {
				t.Errorf("%s sending %s (%s): allowed %v, want %v", tc.sub, tc.typ, tc.fn, got, tc.want)
			}
		})
	}
	// Each sender is in one policy per target (Knative takes the first).
	seen := map[string]string{}
	for i := range objs.EventPolicies {
		p := &objs.EventPolicies[i]
		for _, s := range render.EventPolicySubjects(p) {
			key := p.Spec.To[0].Ref.Kind + "/" + p.Spec.To[0].Ref.Name + " " + s
			if other, ok := seen[key]; ok {
				t.Errorf("%s is in policies %s and %s", s, other, p.Name)
			}
			seen[key] = p.Name
		}
	}
}

// The JobSink, its Trigger, SinkBinding and policies pass Knative's own
// CRD schemas (eventing's jobsink.yaml among them) in a real API server.
func TestExecJobSinkObjectsPassTheirCRDSchemas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "knative.dev/eventing").Output()
	if err != nil {
		t.Fatalf("find knative.dev/eventing: %v", err)
	}
	var crds [][]byte
	for _, f := range []string{"jobsink.yaml", "trigger.yaml", "sinkbindings.yaml", "eventpolicy.yaml"} {
		b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "config/core/resources", f))
		if err != nil {
			t.Fatal(err)
		}
		crds = append(crds, b)
	}
	ctx := context.Background()
	s, err := kubeapi.Start(ctx, kubeapi.Options{CRDs: crds, UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	client, err := dynamic.NewForConfig(s.Config())
	if err != nil {
		t.Fatal(err)
	}
	resources := map[string]string{"JobSink": "jobsinks", "Trigger": "triggers", "SinkBinding": "sinkbindings", "EventPolicy": "eventpolicies"}
	yamlOut, err := render.ExecJobSinkObjects("default", "default", render.Options{}).YAML()
	if err != nil {
		t.Fatal(err)
	}
	created := map[string]int{}
	for _, doc := range strings.Split(string(yamlOut), "\n---\n") {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		res, ok := resources[u.GetKind()]
		if !ok {
			continue // a core kind: not served here, knativecheck checks it
		}
		gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Resource(gv.WithResource(res)).Namespace(u.GetNamespace()).Create(ctx, &u, metav1.CreateOptions{FieldValidation: "Strict"}); err != nil {
			t.Errorf("%s %s: %v", u.GetKind(), u.GetName(), err)
		}
		created[u.GetKind()]++
	}
	if created["JobSink"] != 1 || created["Trigger"] != 1 || created["SinkBinding"] != 1 || created["EventPolicy"] != 2 {
		t.Errorf("created %v", created)
	}
}
