package controller_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// loopOf is a workflow of one loop of n items, each returning parameter
// out. No Trigger routes the function "nobody": the package's shared
// controller, which sees every workflow, dispatches to no one, and only
// the test answers.
func loopOf(t *testing.T, name string, n int) *v1alpha1.Workflow {
	t.Helper()
	return workflow(t, fmt.Sprintf(`
apiVersion: zeroflow.dev/v1alpha1
kind: Workflow
metadata: {name: %s}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: fan
        template: item
        withSequence: {count: "%d"}
        arguments: {parameters: [{name: x, value: "{{item}}"}]}
  - name: item
    inputs: {parameters: [{name: x}]}
    outputs: {parameters: [{name: out}]}
    function: {name: nobody}
`, name, n))
}

// offloadedOutput is what a step returns for a value above the offload
// threshold: a reference with its own random-looking digest.
func offloadedOutput(ns, wf, node string) *v1alpha1.NodeOutputs {
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(ns+"/"+wf+"/"+node)))
	return &v1alpha1.NodeOutputs{ParameterRefs: map[string]v1alpha1.ValueRef{"out": {
		Key: sdk.OffloadKey(ns, digest), Size: 70 << 10, Digest: digest,
	}}}
}

// storedBytes reads wf as the API server stores it, without the Client's
// expansion, and returns its size and whether its nodes are compressed.
func storedBytes(t *testing.T, ns, name string) (int, bool) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(apiServer.Config())
	if err != nil {
		t.Fatal(err)
	}
	u, err := dyn.Resource(v1alpha1.SchemeGroupVersion.WithResource("workflows")).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	compressed, _ := u.Object["status"].(map[string]any)["compressedNodes"].(string)
	return len(raw), compressed != ""
}

// A finished 10,000-item fan-out whose every item returned an offloaded
// value has 2.5 MB of node records: stored compressed, the Workflow is
// below the controller's 1 MiB bound, and every reader through the Client
// gets the nodes back. Without compression the API server refuses it.
func TestTenThousandNodesWithOffloadedOutputsFit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 10,000-node status")
	}
	const items = 10000
	ns := uniqueNamespace("ten-thousand")
	wf := loopOf(t, "wide", items)
	wf.Namespace = ns
	created, err := client.CreateWorkflow(context.Background(), wf)
	if err != nil {
		t.Fatal(err)
	}
	// The status the engine makes of it, every item Succeeded with an
	// offloaded output.
	eng := engine.New()
	run := engine.RunOf(created)
	t0 := time.Now().UTC().Truncate(time.Second)
	apply := func(in engine.Input, at time.Time) {
		out, err := eng.Advance(run, in, at)
		if err != nil {
			t.Fatal(err)
		}
		run.Status = out.Status
	}
	apply(engine.Input{Kind: engine.Submit}, t0)
	// Every item done, as 10,000 results would leave it (applying them one
	// by one is the engine tests' job, and takes minutes here), then one
	// tick for the engine to finish the run.
	for id, n := range run.Status.Nodes {
		if strings.HasPrefix(id, "main.fan(") {
			n.Phase, n.Finished, n.TokenHash, n.Outputs = v1alpha1.NodeSucceeded, n.Started+5, "", offloadedOutput(ns, "wide", id)
			run.Status.Nodes[id] = n
		}
	}
	apply(engine.Input{Kind: engine.Tick}, t0.Add(time.Minute))
	if run.Status.Phase != v1alpha1.WorkflowSucceeded || len(run.Status.Nodes) != items+2 {
		t.Fatalf("engine: phase %s (%s), %d nodes", run.Status.Phase, run.Status.Message, len(run.Status.Nodes))
	}
	raw, _ := json.Marshal(run.Status.Nodes)

	// The package's shared controller sees the workflow too and may write
	// it in between: each write goes on the latest version.
	write := func(c *controller.Client) (*v1alpha1.Workflow, error) {
		var written *v1alpha1.Workflow
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := client.GetWorkflow(context.Background(), ns, "wide")
			if err != nil {
				return err
			}
			cur.Status = run.Status
			written, err = c.UpdateWorkflowStatus(context.Background(), cur)
			return err
		})
		return written, err
	}
	// Uncompressed, the API server (etcd) refuses it.
	if _, err := write(client.WithCompressNodesAbove(len(raw) + 1)); err == nil || !strings.Contains(err.Error(), "too large") && !strings.Contains(err.Error(), "larger than max") {
		t.Fatalf("a %d-byte status written uncompressed: %v; want it refused as too large", len(raw), err)
	}
	written, err := write(client)
	if err != nil {
		t.Fatalf("write the compressed status: %v", err)
	}
	size, compressed := storedBytes(t, ns, "wide")
	t.Logf("%d nodes: %d bytes of node records, the stored Workflow %d bytes", len(run.Status.Nodes), len(raw), size)
	if !compressed || size > controller.DefaultMaxObjectBytes {
		t.Fatalf("stored Workflow is %d bytes (compressed %v), want compressed and at most %d", size, compressed, controller.DefaultMaxObjectBytes)
	}
	for what, got := range map[string]*v1alpha1.Workflow{"the written object": written} {
		if !equality.Semantic.DeepEqual(got.Status.Nodes, run.Status.Nodes) || got.Status.CompressedNodes != "" {
			t.Errorf("%s: nodes differ from what was written", what)
		}
	}
	read, err := client.GetWorkflow(context.Background(), ns, "wide")
	if err != nil || !equality.Semantic.DeepEqual(read.Status.Nodes, run.Status.Nodes) || read.Status.CompressedNodes != "" {
		t.Errorf("GetWorkflow: %v, %d nodes", err, len(read.Status.Nodes))
	}
	list, err := client.ListWorkflows(context.Background(), ns, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 || len(list.Items[0].Status.Nodes) != items+2 {
		t.Errorf("ListWorkflows: %v", err)
	}
}

// A run whose node records pass the compression threshold keeps running
// through the controller: each result is read back from the compressed
// status (cache, watch or API) and written compressed again.
func TestRunWithCompressedNodes(t *testing.T) {
	const items = 40
	ns := uniqueNamespace("compressed")
	small := client.WithCompressNodesAbove(2 << 10)
	c, sent := directController(t, controller.Config{Client: small})
	wf := loopOf(t, "loop", items)
	wf.Namespace = ns
	if err := submitDirect(t, c, wf); err != nil {
		t.Fatalf("submit: %v", err)
	}
	runs := map[string]event.Event{}
	deadline := time.Now().Add(10 * time.Second)
	for len(runs) < items && time.Now().Before(deadline) {
		for _, ev := range sent.ofType(events.TypeStepRun) {
			if events.Extension(ev, events.ExtNamespace) == ns {
				runs[events.Extension(ev, events.ExtNode)] = ev
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(runs) != items {
		t.Fatalf("%d step.runs sent, want %d", len(runs), items)
	}
	for i := range items {
		id := "main.fan(" + strconv.Itoa(i) + ")"
		res := events.StepResult{Phase: v1alpha1.NodeSucceeded, Outputs: offloadedOutput(ns, "loop", id)}
		if _, err := c.Handle(context.Background(), resultFor(t, runs[id], res)); err != nil {
			t.Fatalf("result of %s: %v", id, err)
		}
		if i == items/2 {
			if _, compressed := storedBytes(t, ns, "loop"); !compressed {
				t.Fatal("half-way, the stored nodes are not compressed: the test shows nothing")
			}
		}
	}
	got, err := small.GetWorkflow(context.Background(), ns, "loop")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != v1alpha1.WorkflowSucceeded || len(got.Status.Nodes) != items+2 {
		t.Fatalf("phase %s (%s), %d nodes; want Succeeded with %d", got.Status.Phase, got.Status.Message, len(got.Status.Nodes), items+2)
	}
	for id, n := range got.Status.Nodes {
		if strings.HasPrefix(id, "main.fan(") && (n.Outputs == nil || n.Outputs.ParameterRefs["out"].Size != 70<<10) {
			t.Errorf("%s lost its output: %+v", id, n.Outputs)
		}
	}
}
