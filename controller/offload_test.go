package controller_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// sentEvents is a Send that keeps what a controller sends.
type sentEvents struct {
	mu  sync.Mutex
	evs []event.Event
}

func (s *sentEvents) send(_ context.Context, ev event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evs = append(s.evs, ev)
	return nil
}

func (s *sentEvents) ofType(typ string) []event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []event.Event
	for _, ev := range s.evs {
		if ev.Type() == typ {
			out = append(out, ev)
		}
	}
	return out
}

// directController is a controller of the test's own, on the real API
// server, whose events the test sends and takes by hand (Handle, Send):
// its limits can be set, and what it dispatches is seen as sent.
func directController(t *testing.T, cfg controller.Config) (*controller.Controller, *sentEvents) {
	t.Helper()
	sent := &sentEvents{}
	if cfg.Client == nil {
		cfg.Client = client
	}
	cfg.Send = sent.send
	// The package's shared controller watches every workflow and may
	// start one of these first: with the same key, either one's step.run
	// is answered alike (stepRunOf).
	cfg.TokenKey = []byte(sharedTokenKey)
	c, err := controller.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, sent
}

const oneStep = `
apiVersion: zeroflow.dev/v1alpha1
kind: Workflow
metadata: {name: big}
spec:
  entrypoint: main
  arguments: {parameters: [{name: payload, value: "small"}]}
  templates:
  - name: main
    inputs: {parameters: [{name: payload}]}
    function: {name: ok}
`

// submitDirect hands a submit to c and returns its answer.
func submitDirect(t *testing.T, c *controller.Controller, wf *v1alpha1.Workflow) error {
	t.Helper()
	ev := submitEvent(t, "submit-"+wf.Namespace+"-"+wf.Name, wf)
	ev.SetExtension(events.ExtNamespace, wf.Namespace)
	_, err := c.Handle(context.Background(), ev)
	return err
}

// stepRunOf is the step.run c sent for workflow name, or, when the
// package's shared controller started it first, the same event rebuilt from
// the running node (its id, extensions and token, which is all a result
// echoes).
func stepRunOf(t *testing.T, c *controller.Controller, sent *sentEvents, ns, name string) (event.Event, bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, ev := range sent.ofType(events.TypeStepRun) {
			if events.Extension(ev, events.ExtWorkflow) == name && events.Extension(ev, events.ExtNamespace) == ns {
				return ev, true
			}
		}
		wf, err := client.GetWorkflow(context.Background(), ns, name)
		if err != nil {
			t.Fatalf("read %s/%s: %v", ns, name, err)
		}
		for id, n := range wf.Status.Nodes {
			if n.Type != v1alpha1.NodeTypeLeaf || n.Phase != v1alpha1.NodeRunning {
				continue
			}
			ev := event.New()
			ev.SetID(controller.StepRunID(controller.RunKey(wf), id, n.Retries))
			ev.SetType(events.TypeStepRun)
			ev.SetSource(controller.Source)
			ev.SetExtension(events.ExtNamespace, ns)
			ev.SetExtension(events.ExtWorkflow, name)
			ev.SetExtension(events.ExtNode, id)
			ev.SetExtension(events.ExtAttempt, strconv.Itoa(int(n.Retries)))
			ev.SetExtension(events.ExtStepToken, controller.StepTokenOf([]byte(sharedTokenKey), ev.ID()))
			return ev, true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return event.Event{}, false
}

// resultFor is the step.result answering a step.run, with its token.
func resultFor(t *testing.T, run event.Event, res events.StepResult) event.Event {
	t.Helper()
	ev := event.New()
	ev.SetID(run.ID() + "/result")
	ev.SetType(events.TypeStepResult)
	ev.SetSource("/test")
	for _, x := range []string{events.ExtNamespace, events.ExtWorkflow, events.ExtNode, events.ExtAttempt, events.ExtStepToken} {
		ev.SetExtension(x, events.Extension(run, x))
	}
	if err := ev.SetData(event.ApplicationJSON, res); err != nil {
		t.Fatal(err)
	}
	return ev
}

func statusCode(err error) int {
	var se *sdk.StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// A status that would be above the bound ends the run in Error within
// seconds, with why and what to do in its message, and the step is not
// sent again; etcd never sees the write.
func TestTooLargeStatusEndsRunInError(t *testing.T) {
	ns := uniqueNamespace("too-large")
	c, sent := directController(t, controller.Config{MaxObjectBytes: 16 << 10})
	wf := workflow(t, oneStep)
	wf.Namespace = ns
	start := time.Now()
	if err := submitDirect(t, c, wf); err != nil {
		t.Fatalf("submit: %v", err)
	}
	first, ok := stepRunOf(t, c, sent, ns, "big")
	if !ok {
		t.Fatal("no step.run sent")
	}
	runs := []event.Event{first}
	before := len(sent.ofType(events.TypeStepRun))
	big := strings.Repeat("x", 32<<10)
	res := events.StepResult{Phase: v1alpha1.NodeSucceeded, Outputs: &v1alpha1.NodeOutputs{Result: &big}}
	if _, err := c.Handle(context.Background(), resultFor(t, runs[0], res)); err != nil {
		t.Fatalf("result: %v (want it taken: the run ends in Error)", err)
	}
	got, err := client.GetWorkflow(context.Background(), ns, "big")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != v1alpha1.WorkflowError || !strings.Contains(got.Status.Message, "above the limit of 16384 bytes") || !strings.Contains(got.Status.Message, "offloaded") {
		t.Fatalf("phase %s, message %q; want Error saying the status is above the limit and what to do", got.Status.Phase, got.Status.Message)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
	for id, n := range got.Status.Nodes {
		if n.Phase != v1alpha1.NodeError {
			t.Errorf("node %s: %s, want Error", id, n.Phase)
		}
	}
	if len(sent.ofType(events.TypeWorkflowFinished)) != 1 {
		t.Errorf("want one workflow.finished")
	}
	// A redelivery of the result neither runs the step again nor loops.
	if _, err := c.Handle(context.Background(), resultFor(t, runs[0], res)); err != nil {
		t.Fatalf("redelivered result: %v", err)
	}
	if n := len(sent.ofType(events.TypeStepRun)); n != before {
		t.Errorf("%d step.run sent, want %d (the step must not run again)", n, before)
	}
	if st := c.Stats(); st.PermanentErrors == 0 {
		t.Errorf("no permanent error counted: %+v", st)
	}
}

// A result whose offloaded output is not its namespace's content key fails
// the node with Error naming it.
func TestResultWithForeignValueRefFailsNode(t *testing.T) {
	ns := uniqueNamespace("bad-ref")
	c, sent := directController(t, controller.Config{})
	wf := workflow(t, oneStep)
	wf.Namespace = ns
	if err := submitDirect(t, c, wf); err != nil {
		t.Fatalf("submit: %v", err)
	}
	first, ok := stepRunOf(t, c, sent, ns, "big")
	if !ok {
		t.Fatal("no step.run sent")
	}
	runs := []event.Event{first}
	digest := sdk.Digest([]byte("secret of another namespace"))
	ref := v1alpha1.ValueRef{Key: sdk.OffloadKey("other", digest), Size: 27, Digest: digest}
	res := events.StepResult{Phase: v1alpha1.NodeSucceeded, Outputs: &v1alpha1.NodeOutputs{ParameterRefs: map[string]v1alpha1.ValueRef{"records": ref}}}
	if _, err := c.Handle(context.Background(), resultFor(t, runs[0], res)); err != nil {
		t.Fatalf("result: %v", err)
	}
	got, err := client.GetWorkflow(context.Background(), ns, "big")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Nodes) != 1 {
		t.Fatalf("nodes: %v, want the one step", got.Status.Nodes)
	}
	var n v1alpha1.NodeStatus
	for _, v := range got.Status.Nodes {
		n = v
	}
	if n.Phase != v1alpha1.NodeError || !strings.Contains(n.Message, "outputs.parameterRefs.records") || !got.Status.Phase.Completed() {
		t.Fatalf("workflow %s, node %s %q; want the node in Error naming outputs.parameterRefs.records", got.Status.Phase, n.Phase, n.Message)
	}
}

// A submit's argument above the threshold is offloaded before the Workflow
// is created; a Workflow too large with no store to offload to is refused
// with 413 and not created; a valueRef of another namespace with 400.
func TestSubmitOffloadsLargeArguments(t *testing.T) {
	ns := uniqueNamespace("offload-args")
	store := sdk.DirArtifacts{Dir: artifacts}
	c, _ := directController(t, controller.Config{Artifacts: store})
	wf := workflow(t, oneStep)
	wf.Namespace = ns
	payload := v1alpha1.AnyString(strings.Repeat("y", 100<<10))
	wf.Spec.Arguments.Parameters[0].Value = &payload
	if err := submitDirect(t, c, wf); err != nil {
		t.Fatalf("submit: %v", err)
	}
	got, err := client.GetWorkflow(context.Background(), ns, "big")
	if err != nil {
		t.Fatal(err)
	}
	p := got.Spec.Arguments.Parameters[0]
	if p.Value != nil || p.ValueRef == nil || p.ValueRef.Size != 100<<10 {
		t.Fatalf("argument stored as %+v, want a valueRef of %d bytes", p, 100<<10)
	}
	b, err := sdk.GetValue(context.Background(), store, ns, *p.ValueRef, 1<<20)
	if err != nil || string(b) != string(payload) {
		t.Fatalf("offloaded value: %d bytes, %v", len(b), err)
	}

	noStore, _ := directController(t, controller.Config{})
	huge := workflow(t, oneStep)
	huge.Namespace, huge.Name = ns, "huge"
	v := v1alpha1.AnyString(strings.Repeat("z", 2<<20))
	huge.Spec.Arguments.Parameters[0].Value = &v
	err = submitDirect(t, noStore, huge)
	if statusCode(err) != http.StatusRequestEntityTooLarge {
		t.Fatalf("submit of a 2 MiB workflow with no store: %v (status %d), want 413", err, statusCode(err))
	}
	if _, err := client.GetWorkflow(context.Background(), ns, "huge"); !apierrors.IsNotFound(err) {
		t.Fatalf("the refused workflow exists: %v", err)
	}

	foreign := workflow(t, oneStep)
	foreign.Namespace, foreign.Name = ns, "foreign"
	ref := *p.ValueRef
	ref.Key = sdk.OffloadKey("other", ref.Digest)
	foreign.Spec.Arguments.Parameters[0].Value, foreign.Spec.Arguments.Parameters[0].ValueRef = nil, &ref
	if err := submitDirect(t, c, foreign); statusCode(err) != http.StatusBadRequest {
		t.Fatalf("submit with another namespace's valueRef: %v, want 400", err)
	}
}

// artifactRepositoryRef resolves as Argo's: the ConfigMap's default key
// (annotation) goes into each step.run; a ref to a missing ConfigMap or key
// ends the run in Error naming it; with neither, no repository is sent.
func TestArtifactRepositoryRef(t *testing.T) {
	ns := uniqueNamespace("repo")
	ctx := context.Background()
	// The in-process API server serves no core kinds: the ConfigMaps come
	// from a map the test fills, read as the API's would be.
	var mu sync.Mutex
	cms := map[string]*corev1.ConfigMap{}
	getCM := func(_ context.Context, namespace, name string) (*corev1.ConfigMap, error) {
		mu.Lock()
		defer mu.Unlock()
		if cm, ok := cms[namespace+"/"+name]; ok {
			return cm.DeepCopy(), nil
		}
		return nil, apierrors.NewNotFound(corev1.Resource("configmaps"), name)
	}
	c, sent := directController(t, controller.Config{ConfigMaps: getCM})
	run := func(name string, ref *v1alpha1.ArtifactRepositoryRef) (*v1alpha1.Workflow, *events.StepRun) {
		t.Helper()
		wf := workflow(t, oneStep)
		wf.Namespace, wf.Name = ns, name
		wf.Spec.ArtifactRepositoryRef = ref
		if err := submitDirect(t, c, wf); err != nil {
			t.Fatalf("submit %s: %v", name, err)
		}
		got, err := client.GetWorkflow(ctx, ns, name)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Phase.Completed() {
			return got, nil
		}
		if ev, ok := stepRunOf(t, c, sent, ns, name); ok {
			var sr events.StepRun
			if err := ev.DataAs(&sr); err != nil {
				t.Fatal(err)
			}
			return got, &sr
		}
		return got, nil
	}
	if _, sr := run("no-configmap", nil); sr == nil || sr.ArtifactRepository != nil {
		t.Fatalf("no ref, no ConfigMap: step.run %+v, want one with no repository", sr)
	}
	got, sr := run("missing", &v1alpha1.ArtifactRepositoryRef{ConfigMap: "nope"})
	if sr != nil || got.Status.Phase != v1alpha1.WorkflowError || !strings.Contains(got.Status.Message, "ConfigMap "+ns+"/nope not found") {
		t.Fatalf("missing ConfigMap: %s %q, want Error naming it", got.Status.Phase, got.Status.Message)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: controller.DefaultArtifactRepositories, Namespace: ns,
			Annotations: map[string]string{controller.AnnotationDefaultArtifactRepository: "minio"}},
		Data: map[string]string{
			"minio": "s3:\n  bucket: logs\n  endpoint: minio:9000\n  insecure: true\n  accessKeySecret: {name: minio, key: accesskey}\n  secretKeySecret: {name: minio, key: secretkey}\n",
			"other": "s3:\n  bucket: other\n",
		},
	}
	mu.Lock()
	cms[ns+"/"+cm.Name] = cm
	mu.Unlock()
	// Past the controller's cache of the "no ConfigMap" answer.
	time.Sleep(11 * time.Second)
	_, sr = run("default-key", &v1alpha1.ArtifactRepositoryRef{})
	if sr == nil || sr.ArtifactRepository == nil || sr.ArtifactRepository.S3 == nil || sr.ArtifactRepository.S3.Bucket != "logs" || sr.ArtifactRepository.S3.AccessKeySecret == nil {
		t.Fatalf("default key: step.run %+v, want the minio repository", sr)
	}
	if _, sr = run("no-ref", nil); sr == nil || sr.ArtifactRepository == nil || sr.ArtifactRepository.S3.Bucket != "logs" {
		t.Fatalf("no ref with the namespace's ConfigMap: step.run %+v, want its default", sr)
	}
	if _, sr = run("named-key", &v1alpha1.ArtifactRepositoryRef{Key: "other"}); sr == nil || sr.ArtifactRepository == nil || sr.ArtifactRepository.S3.Bucket != "other" {
		t.Fatalf("named key: step.run %+v, want bucket other", sr)
	}
	got, _ = run("missing-key", &v1alpha1.ArtifactRepositoryRef{Key: "gone"})
	if got.Status.Phase != v1alpha1.WorkflowError || !strings.Contains(got.Status.Message, `no key "gone"`) {
		t.Fatalf("missing key: %s %q, want Error naming it", got.Status.Phase, got.Status.Message)
	}
}

// A status the API server itself refuses (etcd's "request is too large",
// with the controller's own bound set out of the way) is a permanent error
// too: the run ends in Error within seconds with the API's reason, not a
// write retried for ever.
func TestStatusRefusedByTheAPIEndsRunInError(t *testing.T) {
	ns := uniqueNamespace("refused")
	c, sent := directController(t, controller.Config{MaxObjectBytes: 64 << 20})
	wf := workflow(t, oneStep)
	wf.Namespace = ns
	start := time.Now()
	if err := submitDirect(t, c, wf); err != nil {
		t.Fatalf("submit: %v", err)
	}
	run, ok := stepRunOf(t, c, sent, ns, "big")
	if !ok {
		t.Fatal("no step.run sent")
	}
	before := len(sent.ofType(events.TypeStepRun))
	// Random, so that compressing the node records cannot make it fit.
	noise := make([]byte, 1900<<10)
	_, _ = rand.Read(noise)
	big := base64.StdEncoding.EncodeToString(noise)
	res := events.StepResult{Phase: v1alpha1.NodeSucceeded, Outputs: &v1alpha1.NodeOutputs{Result: &big}}
	if _, err := c.Handle(context.Background(), resultFor(t, run, res)); err != nil {
		t.Fatalf("result: %v (want it taken: the run ends in Error)", err)
	}
	got, err := client.GetWorkflow(context.Background(), ns, "big")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != v1alpha1.WorkflowError || !strings.Contains(got.Status.Message, "could not be written") || !strings.Contains(got.Status.Message, "too large") {
		t.Fatalf("phase %s, message %q; want Error with the API's reason", got.Status.Phase, got.Status.Message)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
	if n := len(sent.ofType(events.TypeStepRun)); n != before {
		t.Errorf("%d step.run sent, want %d (the step must not run again)", n, before)
	}
	t.Logf("message: %s", got.Status.Message)
}

// A submit whose run cannot be written (its first status is above the
// bound) ends the run in Error with the reason and is acknowledged: the
// broker does not deliver it again, and nothing runs.
func TestSubmitWhoseRunCannotBeWrittenEndsInError(t *testing.T) {
	ns := uniqueNamespace("submit-too-large")
	c, sent := directController(t, controller.Config{MaxObjectBytes: 64 << 10})
	wf := loopOf(t, "wide", 2000)
	wf.Namespace = ns
	if err := submitDirect(t, c, wf); err != nil {
		t.Fatalf("submit: %v (status %d), want it acknowledged", err, statusCode(err))
	}
	got, err := client.GetWorkflow(context.Background(), ns, "wide")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != v1alpha1.WorkflowError || !strings.Contains(got.Status.Message, "above the limit") {
		t.Errorf("phase %s, message %q; want Error saying the status is above the limit", got.Status.Phase, got.Status.Message)
	}
	for _, ev := range sent.ofType(events.TypeStepRun) {
		if events.Extension(ev, events.ExtNamespace) == ns {
			t.Fatalf("a step.run was sent for a run that could not be written: %s", ev.ID())
		}
	}
}
