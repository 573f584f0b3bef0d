package v1alpha1_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

func fanOutNodes(n int) map[string]v1alpha1.NodeStatus {
	nodes := map[string]v1alpha1.NodeStatus{"main": {Phase: v1alpha1.NodeRunning, Type: v1alpha1.NodeTypeDAG}}
	for i := range n {
		ref := v1alpha1.ValueRef{Key: fmt.Sprintf("values/default/wf/main.item(%d)/0/out", i), Size: 70000, Digest: fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(strconv.Itoa(i))))}
		nodes[fmt.Sprintf("main.item(%d)", i)] = v1alpha1.NodeStatus{Phase: v1alpha1.NodeSucceeded, Started: int64(i), Finished: int64(i + 5),
			Outputs: &v1alpha1.NodeOutputs{ParameterRefs: map[string]v1alpha1.ValueRef{"out": ref}}}
	}
	return nodes
}

func nodesJSON(t *testing.T, nodes map[string]v1alpha1.NodeStatus) int {
	t.Helper()
	b, err := json.Marshal(nodes)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

func TestCompressNodesRoundTrip(t *testing.T) {
	nodes := fanOutNodes(10000)
	raw := nodesJSON(t, nodes)
	st := v1alpha1.WorkflowStatus{Nodes: nodes}
	if err := st.CompressNodes(v1alpha1.DefaultCompressNodesAbove); err != nil {
		t.Fatal(err)
	}
	if st.Nodes != nil || st.CompressedNodes == "" {
		t.Fatalf("not compressed: %d nodes, %d compressed bytes", len(st.Nodes), len(st.CompressedNodes))
	}
	t.Logf("10,000 nodes: %d bytes of JSON, %d compressed", raw, len(st.CompressedNodes))
	if len(st.CompressedNodes) > raw/3 {
		t.Errorf("compressed %d bytes from %d: want at least 3 times smaller", len(st.CompressedNodes), raw)
	}
	if err := st.ExpandNodes(); err != nil {
		t.Fatal(err)
	}
	if st.CompressedNodes != "" || !equality.Semantic.DeepEqual(st.Nodes, nodes) {
		t.Fatal("expanded nodes differ from the original")
	}
}

func TestCompressNodesAtTheThreshold(t *testing.T) {
	nodes := fanOutNodes(20)
	size := nodesJSON(t, nodes)
	at := v1alpha1.WorkflowStatus{Nodes: fanOutNodes(20)}
	if err := at.CompressNodes(size); err != nil || at.CompressedNodes != "" || len(at.Nodes) != len(nodes) {
		t.Errorf("exactly at the threshold: compressed %q, %v", at.CompressedNodes, err)
	}
	over := v1alpha1.WorkflowStatus{Nodes: fanOutNodes(20)}
	if err := over.CompressNodes(size - 1); err != nil || over.CompressedNodes == "" || over.Nodes != nil {
		t.Errorf("one byte over: not compressed, %v", err)
	}
	var none v1alpha1.WorkflowStatus
	if err := none.CompressNodes(0); err != nil || none.CompressedNodes != "" {
		t.Errorf("no nodes: %q, %v", none.CompressedNodes, err)
	}
}

func gzipped(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func TestExpandNodesRefusesBadInput(t *testing.T) {
	// A gzip bomb: 65 MiB of one byte, a few tens of KB compressed.
	bomb := append([]byte(`{"a":{"phase":"`), bytes.Repeat([]byte("x"), v1alpha1.MaxExpandedNodesBytes)...)
	for name, tc := range map[string]struct {
		st   v1alpha1.WorkflowStatus
		want string
	}{
		"not base64": {v1alpha1.WorkflowStatus{CompressedNodes: "%%%"}, "not base64"},
		"not gzip":   {v1alpha1.WorkflowStatus{CompressedNodes: base64.StdEncoding.EncodeToString([]byte("plain"))}, "not gzip"},
		"not JSON":   {v1alpha1.WorkflowStatus{CompressedNodes: gzipped(t, []byte("[1,2"))}, "decode"},
		"a bomb":     {v1alpha1.WorkflowStatus{CompressedNodes: gzipped(t, bomb)}, "expands beyond the bound"},
		"both":       {v1alpha1.WorkflowStatus{Nodes: fanOutNodes(1), CompressedNodes: gzipped(t, []byte("{}"))}, "both"},
	} {
		err := tc.st.ExpandNodes()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
		if name == "a bomb" && !errors.Is(err, v1alpha1.ErrNodesTooLarge) {
			t.Errorf("a bomb: %v is not ErrNodesTooLarge", err)
		}
	}
}
