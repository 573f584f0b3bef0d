package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/testminio"
)

// The whole path in one process: a webhook POST goes through the broker,
// the sensor's filter and sensor, the controller and a DAG of built-in
// step functions to a Succeeded Workflow, with the outputs passed between
// the steps, the run record archived and every step's log stored.
// TestWebhookToSucceededWorkflow runs a webhook to a Succeeded workflow
// with its run record and step logs archived, in the default directory
// store and in S3 (a real MinIO).
func TestWebhookToSucceededWorkflow(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server")
	}
	t.Run("directory", func(t *testing.T) { webhookToSucceededWorkflow(t, "") })
	t.Run("minio", func(t *testing.T) {
		addr := testminio.Start(t, "runs")
		t.Setenv("AWS_ACCESS_KEY_ID", testminio.User)
		t.Setenv("AWS_SECRET_ACCESS_KEY", testminio.Password)
		webhookToSucceededWorkflow(t, "s3://runs/dev?endpoint="+addr+"&insecure=true")
	})
}

func webhookToSucceededWorkflow(t *testing.T, artifacts string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	got := make(chan string, 10)
	report := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		got <- body["total"]
		fmt.Fprint(w, `{"ok": true}`)
	})}
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go report.Serve(rl)
	defer report.Close()

	dir := t.TempDir()
	manifests := fmt.Sprintf(`apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: orders}
spec:
  webhook:
    created: {port: "%s", endpoint: /orders, method: POST}
---
apiVersion: zeroflow.dev/v1alpha1
kind: Sensor
metadata: {name: on-order}
spec:
  dependencies:
  - {name: order, eventSourceName: orders, eventName: created}
  triggers:
  - template:
      name: run
      workflow:
        operation: submit
        source:
          resource:
            apiVersion: zeroflow.dev/v1alpha1
            kind: Workflow
            metadata: {generateName: order-}
            spec:
              workflowTemplateRef: {name: order-pipeline}
              arguments:
                parameters: [{name: items}]
        parameters:
        - src: {dependencyName: order, dataKey: body.items}
          dest: spec.arguments.parameters.0.value
---
apiVersion: zeroflow.dev/v1alpha1
kind: WorkflowTemplate
metadata: {name: order-pipeline}
spec:
  entrypoint: main
  arguments:
    parameters: [{name: items, value: "0"}]
  templates:
  - name: main
    dag:
      tasks:
      - {name: count, template: count, arguments: {parameters: [{name: items, value: "{{workflow.parameters.items}}"}]}}
      - {name: double, template: double, depends: count, arguments: {parameters: [{name: num, value: "{{tasks.count.outputs.result}}"}]}}
      - {name: report, template: report, depends: double, arguments: {parameters: [{name: total, value: "{{tasks.double.outputs.parameters.total}}"}]}}
  - name: count
    inputs: {parameters: [{name: items}]}
    script:
      command: [sh]
      source: |
        echo "counting {{inputs.parameters.items}}" >&2
        echo '{{inputs.parameters.items}}' | tr ',' '\n' | wc -l | tr -d ' '
  - name: double
    inputs: {parameters: [{name: num}]}
    container:
      command: [sh, -c]
      args: ["echo $(( {{inputs.parameters.num}} * 2 )) > /tmp/total"]
    outputs:
      parameters: [{name: total, valueFrom: {path: /tmp/total}}]
  - name: report
    inputs: {parameters: [{name: total}]}
    http:
      method: POST
      url: http://%s/report
      body: '{"total": "{{inputs.parameters.total}}"}'
`, port, rl.Addr())
	if err := os.WriteFile(filepath.Join(dir, "order.yaml"), []byte(manifests), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Paths: []string{dir}, DataDir: t.TempDir(), BrokerAddr: "127.0.0.1:0", Scaling: Scaling{IdleWindow: time.Second}, Artifacts: artifacts})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()

	resp, err := http.Post("http://127.0.0.1:"+port+"/orders", "application/json", strings.NewReader(`{"items": "a,b,c"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
	select {
	case total := <-got:
		if total != "6" {
			t.Errorf("reported total %q, want 6 (3 items doubled)", total)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the report step was not called")
	}

	client, err := controller.NewClient(s.API.Config())
	if err != nil {
		t.Fatal(err)
	}
	var wf *v1alpha1.Workflow
	deadline := time.Now().Add(15 * time.Second)
	for {
		l, err := client.ListWorkflows(ctx, DefaultNamespace, metav1.ListOptions{})
		if err == nil && len(l.Items) == 1 && l.Items[0].Status.Phase.Completed() {
			wf = &l.Items[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no completed workflow: %+v, %v", l, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if wf.Status.Phase != v1alpha1.WorkflowSucceeded || !strings.HasPrefix(wf.Name, "order-") {
		t.Fatalf("workflow %s: %s %s", wf.Name, wf.Status.Phase, wf.Status.Message)
	}
	if r := wf.Status.Nodes["main.count"].Outputs; r == nil || r.Result == nil || *r.Result != "3" {
		t.Errorf("count outputs %+v", r)
	}
	if p := wf.Status.Nodes["main.double"].Outputs; p == nil || p.Parameters["total"] != "6" {
		t.Errorf("double outputs %+v", p)
	}
	if artifacts != "" && s.Artifacts != artifacts {
		t.Errorf("stack artifacts %q, want %q", s.Artifacts, artifacts)
	}
	store, err := sdk.OpenArtifacts(s.Artifacts)
	if err != nil {
		t.Fatal(err)
	}
	read := func(key string) ([]byte, error) {
		r, err := store.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(r)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		b, err := read(events.RunRecordKey(DefaultNamespace, wf.Name))
		if err == nil {
			var rec events.WorkflowFinished
			if err := json.Unmarshal(b, &rec); err != nil || rec.Phase != v1alpha1.WorkflowSucceeded || len(rec.Nodes) != 4 {
				t.Errorf("run record %+v, %v", rec, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no run record: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	log, err := read(events.StepLogKey(DefaultNamespace, wf.Name, "main.count", 0))
	if err != nil || !strings.Contains(string(log), "counting a,b,c") {
		t.Errorf("count's log %q, %v", log, err)
	}
}
