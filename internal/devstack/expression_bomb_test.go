package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
)

// The expression bomb of issue 11 on a running dev stack, over real HTTP: a
// webhook field that a Sensor passes into a Workflow parameter, compared in
// a DAG `when`, once made expr-lang allocate about 1 TB and abort the
// process, again on every restart. Now the value is one literal: the run
// ends with the task Skipped, and the stack goes on serving. A `{{= }}` tag
// written to exceed the memory budget errors its node only. The same value
// in an http step's successCondition is a literal too.
func TestExpressionBombThroughTheStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	// The http step's server: its body is never the value, so the
	// successCondition holds as long as the value stays a literal.
	probe := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer probe.Close()
	ctx, _, client := startWith(t, fmt.Sprintf(`apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: hooks}
spec:
  webhook:
    in: {port: "%s", endpoint: /in, method: POST}
---
apiVersion: zeroflow.dev/v1alpha1
kind: Sensor
metadata: {name: on-in}
spec:
  dependencies:
  - {name: in, eventSourceName: hooks, eventName: in}
  triggers:
  - template:
      name: run
      workflow:
        operation: submit
        source:
          resource:
            apiVersion: zeroflow.dev/v1alpha1
            kind: Workflow
            metadata: {generateName: bomb-}
            spec:
              entrypoint: main
              arguments: {parameters: [{name: x, value: none}, {name: id, value: none}]}
              templates:
              - name: main
                dag:
                  tasks:
                  - {name: check, template: ok, when: "{{workflow.parameters.x}} == go"}
                  - {name: always, template: ok}
                  - {name: probe, template: probe}
              - name: ok
                script: {image: alpine, command: [sh], source: "true"}
              - name: probe
                http:
                  url: %s
                  successCondition: "response.body != '{{workflow.parameters.x}}'"
        parameters:
        - src: {dependencyName: in, dataKey: body.x}
          dest: spec.arguments.parameters.0.value
        - src: {dependencyName: in, dataKey: body.id}
          dest: spec.arguments.parameters.1.value
`, port, probe.URL))

	post := func(id, x string) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"id": id, "x": x})
		resp, err := http.Post("http://127.0.0.1:"+port+"/in", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatalf("post %s: %v (the stack stopped serving?)", id, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("post %s: webhook answered %d", id, resp.StatusCode)
		}
	}

	// The field as issue 11 sent it, and the same bomb as an expression
	// tag: a value is text, substituted once, so neither runs.
	post("bomb", `x' + repeat(repeat('x', 999999), 1000000) + '`)
	post("tag", `{{= repeat(repeat('x', 999999), 1000000) }}`)
	for _, id := range []string{"bomb", "tag"} {
		wf := waitFinished(ctx, t, client, func(wf *v1alpha1.Workflow) bool { return param(wf, "id") == id })
		if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
			t.Errorf("%s: workflow %s ended %s: %q", id, wf.Name, wf.Status.Phase, wf.Status.Message)
		}
		check, ok := nodeNamed(wf, "check")
		if !ok || check.Phase != v1alpha1.NodeSkipped || !strings.Contains(check.Message, "evaluated false") {
			t.Errorf("%s: task check is %+v, want Skipped: when evaluated false", id, check)
		}
		t.Logf("%s: task check: %s", id, check.Message)
		for _, task := range []string{"always", "probe"} {
			if n, _ := nodeNamed(wf, task); n.Phase != v1alpha1.NodeSucceeded {
				t.Errorf("%s: task %s is %s (%q), want Succeeded", id, task, n.Phase, n.Message)
			}
		}
	}

	// The stack still serves: a normal field gives a Succeeded run whose
	// condition held.
	post("normal", "go")
	wf := waitFinished(ctx, t, client, func(wf *v1alpha1.Workflow) bool { return param(wf, "id") == "normal" })
	if check, _ := nodeNamed(wf, "check"); wf.Status.Phase != v1alpha1.WorkflowSucceeded || check.Phase != v1alpha1.NodeSucceeded {
		t.Fatalf("normal: workflow %s, check %s (%q); want both Succeeded", wf.Status.Phase, check.Phase, check.Message)
	}

	// A {{= }} tag in a parameter value, written to exceed the memory
	// budget: its node ends in Error naming the limit, and the process
	// survives it.
	var over v1alpha1.Workflow
	if err := yaml.UnmarshalStrict([]byte(`
metadata: {name: over-budget, namespace: default}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: big
        template: echo
        arguments: {parameters: [{name: size, value: "{{= repeat(repeat('x', 999999), 1000000) }}"}]}
  - name: echo
    inputs: {parameters: [{name: size}]}
    script: {image: alpine, command: [sh], source: "true"}
`), &over); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateWorkflow(ctx, &over); err != nil {
		t.Fatalf("create: %v", err)
	}
	wf = waitFinished(ctx, t, client, func(wf *v1alpha1.Workflow) bool { return wf.Name == "over-budget" })
	big, ok := nodeNamed(wf, "big")
	if !ok || big.Phase != v1alpha1.NodeError || !strings.Contains(big.Message, "memory budget of 1000000 units (MemoryBudget)") {
		t.Errorf("over-budget: node big is %+v, want Error naming MemoryBudget; workflow %s %q", big, wf.Status.Phase, wf.Status.Message)
	}
	t.Logf("over-budget: node big: %s", big.Message)
	if wf.Status.Phase == v1alpha1.WorkflowSucceeded {
		t.Errorf("over-budget: workflow Succeeded")
	}

	post("after", "go")
	wf = waitFinished(ctx, t, client, func(wf *v1alpha1.Workflow) bool { return param(wf, "id") == "after" })
	if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Fatalf("after the over-budget node: workflow %s %q, want Succeeded", wf.Status.Phase, wf.Status.Message)
	}
}

// waitFinished waits, at most 45 seconds, for the one workflow that match
// selects to finish.
func waitFinished(ctx context.Context, t *testing.T, client *controller.Client, match func(*v1alpha1.Workflow) bool) *v1alpha1.Workflow {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	var last *v1alpha1.Workflow
	for {
		l, err := client.ListWorkflows(ctx, DefaultNamespace, metav1.ListOptions{})
		if err == nil {
			for i := range l.Items {
				if wf := &l.Items[i]; match(wf) {
					last = wf
					if !wf.Status.FinishedAt.IsZero() {
						return wf
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			if last == nil {
				t.Fatalf("no such workflow before the deadline (last error %v)", err)
			}
			t.Fatalf("workflow %s did not finish: %s %q", last.Name, last.Status.Phase, last.Status.Message)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// param is the value of a workflow's argument parameter.
func param(wf *v1alpha1.Workflow, name string) string {
	for _, p := range wf.Spec.Arguments.Parameters {
		if p.Name == name && p.Value != nil {
			return string(*p.Value)
		}
	}
	return ""
}

// nodeNamed finds the node of the task with the given name.
func nodeNamed(wf *v1alpha1.Workflow, task string) (v1alpha1.NodeStatus, bool) {
	for id, n := range wf.Status.Nodes {
		if id == task || strings.HasSuffix(id, "."+task) {
			return n, true
		}
	}
	return v1alpha1.NodeStatus{}, false
}
