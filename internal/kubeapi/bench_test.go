package kubeapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zeroflow-dev/zeroflow/internal/kubeapi"
	"github.com/zeroflow-dev/zeroflow/manifests"
)

// statusOfNodes is a workflow status body with n compact node records,
// shaped like the engine's.
func statusOfNodes(n int) map[string]any {
	nodes := make(map[string]any, n)
	for i := range n {
		nodes[fmt.Sprintf("main.fan(%d)", i)] = map[string]any{"phase": "Succeeded", "started": i * 37, "finished": i*37 + 412, "outputs": map[string]any{"result": "ok"}}
	}
	return map[string]any{"phase": "Running", "startedAt": "2026-01-02T03:04:05Z", "nodes": nodes}
}

// benchServer starts a server that fsyncs, as `zeroflow dev` does.
func benchServer(b *testing.B) *kubeapi.Server {
	crds, err := manifests.CRDs()
	if err != nil {
		b.Fatal(err)
	}
	s, err := kubeapi.Start(context.Background(), kubeapi.Options{CRDs: crds})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Stop() })
	return s
}

// BenchmarkStatusUpdate10000 writes a 10,000-node workflow status through
// the API server's status subresource, as the controller will.
func BenchmarkStatusUpdate10000(b *testing.B) {
	s := benchServer(b)
	cfg := s.Config()
	c := dynamicClient(b, cfg).Resource(workflows).Namespace("default")
	doc := strings.Replace(validWorkflow, "name: valid, namespace: team-a", "name: big", 1)
	wf, err := c.Create(ctx(b), object(b, doc), metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	wf.Object["status"] = statusOfNodes(10000)
	body, _ := json.Marshal(wf.Object)
	b.ResetTimer()
	for b.Loop() {
		if wf, err = c.UpdateStatus(ctx(b), wf, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(body)), "body-B")
}

// BenchmarkEtcdPut800K is the raw limit under BenchmarkStatusUpdate10000: a
// put of the same size straight into the embedded etcd.
func BenchmarkEtcdPut800K(b *testing.B) {
	s := benchServer(b)
	// With the client certificate etcd requires: the API server pays the same TLS.
	cli, err := clientv3.New(s.EtcdClientConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	body, _ := json.Marshal(statusOfNodes(10000))
	b.ResetTimer()
	for b.Loop() {
		if _, err := cli.Put(context.Background(), "/bench/status", string(body)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(body)), "body-B")
}
