package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// pipeline is Workflow-A's shape: parse → (enrich ‖ metrics) → store →
// report, parameters passed between the steps, the report an http template.
const pipeline = `
apiVersion: zeroflow.dev/v1alpha1
kind: WorkflowTemplate
metadata: {name: wft-a}
spec:
  entrypoint: main
  arguments:
    parameters: [{name: body, value: ""}, {name: report-url, value: ""}]
  templates:
  - name: main
    dag:
      tasks:
      - {name: parse, template: parse, arguments: {parameters: [{name: body, value: "{{workflow.parameters.body}}"}]}}
      - {name: enrich, template: enrich, depends: parse, arguments: {parameters: [{name: records, value: "{{tasks.parse.outputs.parameters.records}}"}]}}
      - {name: metrics, template: metrics, depends: parse, arguments: {parameters: [{name: count, value: "{{tasks.parse.outputs.parameters.count}}"}]}}
      - name: store
        template: store
        depends: enrich && metrics
        arguments:
          parameters:
          - {name: enriched, value: "{{tasks.enrich.outputs.result}}"}
          - {name: summary, value: "{{tasks.metrics.outputs.parameters.summary}}"}
      - name: report
        template: report
        depends: store
        arguments: {parameters: [{name: key, value: "{{tasks.store.outputs.parameters.key}}"}]}
  - name: parse
    inputs: {parameters: [{name: body}]}
    function: {name: parse}
  - name: enrich
    inputs: {parameters: [{name: records}]}
    function: {name: enrich}
  - name: metrics
    inputs: {parameters: [{name: count}]}
    function: {name: metrics}
  - name: store
    inputs: {parameters: [{name: enriched}, {name: summary}]}
    function: {name: store}
  - name: report
    inputs: {parameters: [{name: key}]}
    http:
      method: POST
      url: "{{workflow.parameters.report-url}}"
      body: '{"stored": "{{inputs.parameters.key}}"}'
`

// pipelineFunctions registers the user functions of the pipeline and
// returns the number of calls of each.
func pipelineFunctions(t *testing.T) map[string]*atomic.Int64 {
	calls := map[string]*atomic.Int64{}
	for _, n := range []string{"parse", "enrich", "metrics", "store"} {
		calls[n] = &atomic.Int64{}
	}
	step(t, "parse", func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		calls["parse"].Add(1)
		var body struct{ Records []string }
		if err := json.Unmarshal([]byte(in.Param("body")), &body); err != nil {
			return sdk.StepOutput{}, fmt.Errorf("body is not JSON: %w", err)
		}
		sdk.Logger(ctx).Info("parsed", "records", len(body.Records))
		return sdk.StepOutput{Parameters: map[string]string{"records": strings.Join(body.Records, ","), "count": fmt.Sprint(len(body.Records))}}, nil
	})
	step(t, "enrich", func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		calls["enrich"].Add(1)
		r := strings.ToUpper(in.Param("records"))
		return sdk.StepOutput{Result: &r}, nil
	})
	step(t, "metrics", func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		calls["metrics"].Add(1)
		return sdk.StepOutput{Parameters: map[string]string{"summary": "count=" + in.Param("count")}}, nil
	})
	step(t, "store", func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		calls["store"].Add(1)
		key := "results/" + in.Namespace + "/" + in.Workflow + ".txt"
		if err := (sdk.DirArtifacts{Dir: artifacts}).Put(ctx, key, strings.NewReader(in.Param("enriched")+" "+in.Param("summary"))); err != nil {
			return sdk.StepOutput{}, err
		}
		sdk.Logger(ctx).Info("stored", "key", key)
		return sdk.StepOutput{Parameters: map[string]string{"key": key}}, nil
	})
	return calls
}

// echo is the report's target, standing for the seed's HTTPBin.
func echo(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), bodies...)
	}
}

func pipelineRun(name, ns, body, reportURL string) string {
	return fmt.Sprintf(`
apiVersion: zeroflow.dev/v1alpha1
kind: Workflow
metadata: {name: %s, namespace: %s}
spec:
  workflowTemplateRef: {name: wft-a}
  arguments:
    parameters: [{name: body, value: %q}, {name: report-url, value: %q}]
`, name, ns, body, reportURL)
}

func TestSubmitRunsTheDAGToSucceededWithOutputsRecordAndLogs(t *testing.T) {
	ns := uniqueNamespace("pipeline")
	apply(t, ns, pipeline)
	calls := pipelineFunctions(t)
	srv, reported := echo(t)

	wf := workflow(t, pipelineRun("run-1", ns, `{"records": ["a", "b", "c"]}`, srv.URL))
	submit(t, ns+"/sensor/trigger/1", wf)
	done := waitDone(t, ns, "run-1", 30*time.Second)

	if done.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Fatalf("phase %s: %s; nodes %+v", done.Status.Phase, done.Status.Message, done.Status.Nodes)
	}
	nodes := done.Status.Nodes
	for id, want := range map[string]string{
		"main.parse":   "records=a,b,c",
		"main.metrics": "summary=count=3",
		"main.store":   "key=results/" + ns + "/run-1.txt",
	} {
		n, ok := nodes[id]
		if !ok || n.Phase != v1alpha1.NodeSucceeded || n.Outputs == nil {
			t.Fatalf("node %s: %+v", id, n)
		}
		k, v, _ := strings.Cut(want, "=")
		if got := n.Outputs.Parameters[k]; got != v {
			t.Errorf("node %s output %s = %q, want %q", id, k, got, v)
		}
	}
	if r := nodes["main.enrich"].Outputs; r == nil || r.Result == nil || *r.Result != "A,B,C" {
		t.Errorf("enrich result %+v", r)
	}
	if r := nodes["main.report"].Outputs; r == nil || r.Result == nil || *r.Result != `{"stored": "results/`+ns+`/run-1.txt"}` {
		t.Errorf("report result %+v", r)
	}
	if got := reported(); len(got) != 1 || got[0] != `{"stored": "results/`+ns+`/run-1.txt"}` {
		t.Errorf("echo received %q", got)
	}
	stored, err := os.ReadFile(filepath.Join(artifacts, "results/"+ns+"/run-1.txt"))
	if err != nil || string(stored) != "A,B,C count=3" {
		t.Errorf("stored result %q, %v", stored, err)
	}
	for n, c := range calls {
		if c.Load() != 1 {
			t.Errorf("%s called %d times, want 1", n, c.Load())
		}
	}
	if done.Status.StoredWorkflowTemplateSpec == nil || len(done.Status.StoredWorkflowTemplateSpec.Templates) != 6 {
		t.Errorf("the template was not snapshotted into the run: %+v", done.Status.StoredWorkflowTemplateSpec)
	}

	// The archive stores the run record once the finished event reaches it.
	rec := waitRecord(t, ns, "run-1")
	if rec.Phase != v1alpha1.WorkflowSucceeded || rec.UID != string(done.UID) || rec.Arguments["body"] == "" {
		t.Errorf("run record %+v", rec)
	}
	var parse *events.RunNode
	for i := range rec.Nodes {
		if rec.Nodes[i].ID == "main.parse" {
			parse = &rec.Nodes[i]
		}
	}
	if parse == nil || parse.FinishedAt == nil || parse.LogKey == "" {
		t.Fatalf("run record's parse node %+v", parse)
	}
	log, err := os.ReadFile(filepath.Join(artifacts, parse.LogKey))
	if err != nil || !strings.Contains(string(log), "parsed") || !strings.Contains(string(log), "records=3") {
		t.Errorf("parse's captured log %q, %v", log, err)
	}
}

func waitRecord(t *testing.T, ns, name string) events.WorkflowFinished {
	t.Helper()
	path := filepath.Join(artifacts, events.RunRecordKey(ns, name))
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			var rec events.WorkflowFinished
			if err := json.Unmarshal(b, &rec); err != nil {
				t.Fatalf("run record: %v", err)
			}
			return rec
		}
		if time.Now().After(deadline) {
			t.Fatalf("no run record at %s: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTheSameSubmitTwiceRunsOnce(t *testing.T) {
	ns := uniqueNamespace("twice")
	apply(t, ns, pipeline)
	calls := pipelineFunctions(t)
	srv, reported := echo(t)
	wf := workflow(t, pipelineRun("run-twice", ns, `{"records": ["x"]}`, srv.URL))
	submit(t, ns+"/sensor/trigger/twice", wf)
	submit(t, ns+"/sensor/trigger/twice", wf)
	done := waitDone(t, ns, "run-twice", 30*time.Second)
	if done.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Fatalf("phase %s: %s", done.Status.Phase, done.Status.Message)
	}
	waitRecord(t, ns, "run-twice")
	// Let a late duplicate show itself.
	time.Sleep(500 * time.Millisecond)
	for n, c := range calls {
		if c.Load() != 1 {
			t.Errorf("%s called %d times, want 1", n, c.Load())
		}
	}
	if got := reported(); len(got) != 1 {
		t.Errorf("report sent %d times, want 1", len(got))
	}
	l, err := client.ListWorkflows(context.Background(), ns, metav1ListAll)
	if err != nil || len(l.Items) != 1 {
		t.Errorf("workflows in %s: %d, %v", ns, len(l.Items), err)
	}
}

func TestAMissingWorkflowTemplateEndsTheRunInErrorNamingIt(t *testing.T) {
	ns := uniqueNamespace("missing")
	wf := workflow(t, `
metadata: {name: run-missing}
spec:
  workflowTemplateRef: {name: no-such-template}
`)
	wf.Namespace = ns
	submit(t, ns+"/missing", wf)
	done := waitDone(t, ns, "run-missing", 15*time.Second)
	if done.Status.Phase != v1alpha1.WorkflowError || !strings.Contains(done.Status.Message, "WorkflowTemplate "+ns+"/no-such-template not found") {
		t.Fatalf("phase %s, message %q", done.Status.Phase, done.Status.Message)
	}
	if len(done.Status.Nodes) != 0 {
		t.Errorf("nodes ran: %+v", done.Status.Nodes)
	}
	rec := waitRecord(t, ns, "run-missing")
	if rec.Phase != v1alpha1.WorkflowError || rec.Message != done.Status.Message {
		t.Errorf("record %+v", rec)
	}
}

func TestAMissingTemplateRefTemplateIsNamed(t *testing.T) {
	ns := uniqueNamespace("missing-ref")
	apply(t, ns, `
apiVersion: zeroflow.dev/v1alpha1
kind: WorkflowTemplate
metadata: {name: lib}
spec:
  templates:
  - {name: hello, script: {command: [sh], source: "echo hi"}}
`)
	wf := workflow(t, `
metadata: {name: run-ref}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: a, templateRef: {name: lib, template: goodbye}}
`)
	wf.Namespace = ns
	submit(t, ns+"/missing-ref", wf)
	done := waitDone(t, ns, "run-ref", 15*time.Second)
	if done.Status.Phase != v1alpha1.WorkflowError || !strings.Contains(done.Status.Message, `has no template "goodbye"`) || !strings.Contains(done.Status.Message, "dag.tasks[0]") {
		t.Fatalf("phase %s, message %q", done.Status.Phase, done.Status.Message)
	}
}

func TestWorkflowCreatedThroughTheAPIRunsExecTemplates(t *testing.T) {
	ns := uniqueNamespace("kubectl")
	apply(t, ns, `
apiVersion: zeroflow.dev/v1alpha1
kind: WorkflowTemplate
metadata: {name: lib}
spec:
  templates:
  - name: shout
    inputs: {parameters: [{name: word}]}
    script:
      command: [sh]
      source: |
        echo "{{inputs.parameters.word}}" | tr a-z A-Z
---
apiVersion: zeroflow.dev/v1alpha1
kind: Workflow
metadata: {name: by-kubectl}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: write, template: write}
    - - name: shout
        templateRef: {name: lib, template: shout}
        arguments: {parameters: [{name: word, value: "{{steps.write.outputs.parameters.word}}"}]}
  - name: write
    container:
      image: alpine
      command: [sh, -c]
      args: ["echo -n hello > /tmp/word.txt; echo writing >&2"]
    outputs:
      parameters:
      - name: word
        valueFrom: {path: /tmp/word.txt}
`)
	done := waitDone(t, ns, "by-kubectl", 30*time.Second)
	if done.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Fatalf("phase %s: %s; nodes %+v", done.Status.Phase, done.Status.Message, done.Status.Nodes)
	}
	if got := done.Status.Nodes["main[0].write"].Outputs.Parameters["word"]; got != "hello" {
		t.Errorf("word = %q", got)
	}
	if r := done.Status.Nodes["main[1].shout"].Outputs; r == nil || r.Result == nil || *r.Result != "HELLO" {
		t.Errorf("shout outputs %+v", r)
	}
	if _, ok := done.Status.StoredTemplates["lib/shout"]; !ok {
		t.Errorf("templateRef not snapshotted: %v", done.Status.StoredTemplates)
	}
	log, err := os.ReadFile(filepath.Join(artifacts, events.StepLogKey(ns, "by-kubectl", "main[0].write", 0)))
	if err != nil || !strings.Contains(string(log), "writing") {
		t.Errorf("write's log %q, %v", log, err)
	}
}

func TestACrashingStepIsRetriedThenFailsWithTheReason(t *testing.T) {
	ns := uniqueNamespace("crash")
	var calls atomic.Int64
	step(t, "crash", func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		calls.Add(1)
		panic("boom: the function crashed")
	})
	wf := workflow(t, `
metadata: {name: run-crash}
spec:
  entrypoint: main
  templates:
  - name: main
    retryStrategy: {limit: 2, retryPolicy: Always}
    function: {name: crash}
`)
	wf.Namespace = ns
	submit(t, ns+"/crash", wf)
	done := waitDone(t, ns, "run-crash", 30*time.Second)
	if done.Status.Phase == v1alpha1.WorkflowSucceeded || !strings.Contains(done.Status.Message, "panic") {
		t.Fatalf("phase %s, message %q", done.Status.Phase, done.Status.Message)
	}
	if calls.Load() != 3 {
		t.Errorf("crash called %d times, want 3 (1 + limit 2)", calls.Load())
	}
}

// The controller's timer or the function's own deadline may end an attempt
// first; either way the attempt fails with the deadline named.
func TestAStepThatTimesOutIsRetriedThenFails(t *testing.T) {
	ns := uniqueNamespace("timeout")
	var calls atomic.Int64
	step(t, "sleepy", func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		calls.Add(1)
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
		return sdk.StepOutput{}, nil
	})
	wf := workflow(t, `
metadata: {name: run-timeout}
spec:
  entrypoint: main
  templates:
  - name: main
    timeout: 300ms
    retryStrategy: {limit: 1, retryPolicy: Always}
    function: {name: sleepy}
`)
	wf.Namespace = ns
	submit(t, ns+"/timeout", wf)
	done := waitDone(t, ns, "run-timeout", 30*time.Second)
	if done.Status.Phase != v1alpha1.WorkflowFailed {
		t.Fatalf("phase %s, message %q", done.Status.Phase, done.Status.Message)
	}
	n := done.Status.Nodes["main"]
	if n.Retries != 1 || !(strings.Contains(n.Message, "did not finish within 300ms") || strings.Contains(n.Message, "did not finish by its deadline")) {
		t.Errorf("node %+v", n)
	}
	if calls.Load() < 2 {
		t.Errorf("sleepy called %d times, want 2", calls.Load())
	}
}

func TestAnInvalidSubmitIsRejectedAndCreatesNothing(t *testing.T) {
	wf := workflow(t, `
metadata: {name: run-invalid}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: a, template: nope}
`)
	wf.Namespace = uniqueNamespace("invalid")
	ev := submitEvent(t, wf.Namespace+"/1", wf)
	_, err := ctrl.Handle(context.Background(), ev)
	if err == nil || !strings.Contains(err.Error(), "spec.templates[0].dag.tasks[0].template") {
		t.Fatalf("Handle: %v", err)
	}
	if _, err := client.GetWorkflow(context.Background(), wf.Namespace, "run-invalid"); err == nil {
		t.Errorf("an invalid workflow was created")
	}
}

func TestResourceTemplateCreatesAnObjectAndWaitsForItsSuccessCondition(t *testing.T) {
	ns := uniqueNamespace("resource")
	// The parent creates a child Workflow with a resource template and
	// waits until the child's phase is Succeeded; any kind the API serves
	// would do.
	wf := workflow(t, `
metadata: {name: parent}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: child, template: make-child}
  - name: make-child
    timeout: 20s
    resource:
      action: create
      successCondition: status.phase == Succeeded
      failureCondition: status.phase in (Failed, Error)
      manifest: |
        apiVersion: zeroflow.dev/v1alpha1
        kind: Workflow
        metadata: {name: child}
        spec:
          entrypoint: hello
          templates:
          - {name: hello, script: {command: [sh], source: "echo child ran"}}
    outputs:
      parameters:
      - name: phase
        valueFrom: {jsonPath: "{.status.phase}"}
`)
	wf.Namespace = ns
	submit(t, ns+"/parent", wf)
	done := waitDone(t, ns, "parent", 30*time.Second)
	if done.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Fatalf("parent %s: %s; nodes %+v", done.Status.Phase, done.Status.Message, done.Status.Nodes)
	}
	out := done.Status.Nodes["main[0].child"].Outputs
	if out == nil || out.Parameters["phase"] != "Succeeded" || out.Parameters["name"] != "child" {
		t.Errorf("outputs %+v", out)
	}
	child := waitDone(t, ns, "child", 5*time.Second)
	if r := child.Status.Nodes["hello"].Outputs; r == nil || r.Result == nil || *r.Result != "child ran" {
		t.Errorf("child outputs %+v", child.Status.Nodes)
	}
}

func TestRetryRunsTheFailedStepAgainAndResumeEndsASuspend(t *testing.T) {
	ns := uniqueNamespace("retry")
	var fail atomic.Bool
	fail.Store(true)
	var calls atomic.Int64
	step(t, "flaky", func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		calls.Add(1)
		if fail.Load() {
			return sdk.StepOutput{}, fmt.Errorf("downstream unavailable")
		}
		return sdk.StepOutput{}, nil
	})
	wf := workflow(t, `
metadata: {name: run-retry}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: first, template: ok}
      - {name: gate, template: gate, depends: first}
      - {name: flaky, template: flaky, depends: gate}
  - {name: ok, script: {command: [sh], source: "echo ok"}}
  - {name: gate, suspend: {}}
  - {name: flaky, function: {name: flaky}}
`)
	wf.Namespace = ns
	submit(t, ns+"/retry", wf)
	// The suspend node waits for resume.
	waitNode(t, ns, "run-retry", "main.gate", v1alpha1.NodeRunning)
	annotate(t, ns, "run-retry", controller.AnnotationResume, `{}`)
	done := waitDone(t, ns, "run-retry", 30*time.Second)
	if done.Status.Phase != v1alpha1.WorkflowFailed || done.Status.Nodes["main.flaky"].Message != "downstream unavailable" {
		t.Fatalf("phase %s, nodes %+v", done.Status.Phase, done.Status.Nodes)
	}
	if _, ok := done.Annotations[controller.AnnotationResume]; ok {
		t.Errorf("the resume request was not taken off")
	}
	fail.Store(false)
	annotate(t, ns, "run-retry", controller.AnnotationRetry, `{}`)
	waitPhase(t, ns, "run-retry", v1alpha1.WorkflowSucceeded)
	again, _ := client.GetWorkflow(context.Background(), ns, "run-retry")
	if calls.Load() != 2 || again.Status.Nodes["main.first"].Finished != done.Status.Nodes["main.first"].Finished {
		t.Errorf("flaky called %d times (want 2); first node %+v then %+v: what succeeded must not run again", calls.Load(), done.Status.Nodes["main.first"], again.Status.Nodes["main.first"])
	}
}

func annotate(t *testing.T, ns, name, key, value string) {
	t.Helper()
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{key: value}}})
	if _, err := client.PatchWorkflow(context.Background(), ns, name, patch); err != nil {
		t.Fatal(err)
	}
}

func waitNode(t *testing.T, ns, name, node string, phase v1alpha1.NodePhase) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		wf, err := client.GetWorkflow(context.Background(), ns, name)
		if err == nil && wf.Status.Nodes[node].Phase == phase {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s never %s", node, phase)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitPhase(t *testing.T, ns, name string, phase v1alpha1.WorkflowPhase) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		wf, err := client.GetWorkflow(context.Background(), ns, name)
		if err == nil && wf.Status.Phase == phase {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("workflow %s never %s (last %s); log:\n%s", name, phase, wf.Status.Phase, logs.tail(30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
