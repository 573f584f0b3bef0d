package kubeapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// workflowAStatus is the status of a finished Workflow-A run as the
// controller writes it: six nodes with their outputs and the snapshot of
// the example's template (about 4 KB of JSON).
func workflowAStatus(b *testing.B) map[string]any {
	raw, err := os.ReadFile("../../examples/log-pipeline/workflowtemplate.yaml")
	if err != nil {
		b.Fatal(err)
	}
	var tpl map[string]any
	if err := yaml.Unmarshal(raw, &tpl); err != nil {
		b.Fatal(err)
	}
	nodes := map[string]any{}
	for i, n := range []string{"main", "main.parse", "main.enrich", "main.metrics", "main.store", "main.report"} {
		nodes[n] = map[string]any{"phase": "Succeeded", "started": i * 37, "finished": i*37 + 4,
			"outputs": map[string]any{"parameters": map[string]any{"records": `[{"level":"info","message":"step finished"},{"level":"warn","message":"slow"}]`}}}
	}
	return map[string]any{"phase": "Running", "startedAt": "2026-01-02T03:04:05Z", "nodes": nodes, "storedWorkflowTemplateSpec": tpl["spec"]}
}

func workflowA(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "zeroflow.dev/v1alpha1", "kind": "Workflow",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"workflowTemplateRef": map[string]any{"name": "wft-a-simple"},
			"arguments":           map[string]any{"parameters": []any{map[string]any{"name": "payload", "value": `{"batch":1,"records":[{"level":"info"}]}`}}},
		},
	}}
}

// BenchmarkStatusUpdateWorkflowA is one status write of a Workflow-A run,
// one after another: the latency the controller pays between a step's
// result and the next step's dispatch.
func BenchmarkStatusUpdateWorkflowA(b *testing.B) {
	s := benchServer(b)
	c := dynamicClient(b, s.Config()).Resource(workflows).Namespace("default")
	wf, err := c.Create(ctx(b), workflowA("wfa"), metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	wf.Object["status"] = workflowAStatus(b)
	body, _ := json.Marshal(wf.Object)
	b.ResetTimer()
	for b.Loop() {
		if wf, err = c.UpdateStatus(ctx(b), wf, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(body)), "body-B")
}

// BenchmarkStatusUpdateWorkflowAConcurrent is the same write from 16
// writers on 16 workflows at once: time/op is the API server's ceiling on
// this machine (1/throughput), what a burst of workflows runs into.
func BenchmarkStatusUpdateWorkflowAConcurrent(b *testing.B) {
	s := benchServer(b)
	c := dynamicClient(b, s.Config()).Resource(workflows).Namespace("default")
	const writers = 16
	status := workflowAStatus(b)
	wfs := make([]*unstructured.Unstructured, writers)
	for i := range wfs {
		wf, err := c.Create(ctx(b), workflowA(fmt.Sprintf("wfa-%d", i)), metav1.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		wf.Object["status"] = status
		wfs[i] = wf
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	errs := make(chan error, writers)
	b.ResetTimer()
	for i := range writers {
		go func() {
			wf := wfs[i]
			var err error
			for left.Add(-1) >= 0 {
				if wf, err = c.UpdateStatus(context.Background(), wf, metav1.UpdateOptions{}); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEtcdPutWorkflowA is the raw limit under the two above: a put of
// the same status straight into the same embedded etcd.
func BenchmarkEtcdPutWorkflowA(b *testing.B) {
	s := benchServer(b)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{s.EtcdURL()}, DialTimeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	body, _ := json.Marshal(workflowAStatus(b))
	b.ResetTimer()
	for b.Loop() {
		if _, err := cli.Put(context.Background(), "/bench/workflow-a", string(body)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(body)), "body-B")
}
