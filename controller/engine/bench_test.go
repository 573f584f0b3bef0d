package engine_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

// wideDAG is a DAG of width×depth tasks; each task depends on two tasks of
// the layer above.
func wideDAG(width, depth int) string {
	var b strings.Builder
	b.WriteString("spec:\n  entrypoint: main\n  templates:\n  - name: main\n    dag:\n      tasks:\n")
	for l := range depth {
		for i := range width {
			fmt.Fprintf(&b, "      - {name: t%d-%d, template: fn", l, i)
			if l > 0 {
				fmt.Fprintf(&b, ", depends: \"t%d-%d && t%d-%d\"", l-1, i, l-1, (i+1)%width)
			}
			b.WriteString("}\n")
		}
	}
	b.WriteString(leaves)
	return b.String()
}

func loopWF(items int) string {
	return fmt.Sprintf(`
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: fan
        template: echo
        withSequence: {count: "%d"}
        arguments: {parameters: [{name: x, value: "{{item}}"}]}
`, items) + leaves
}

func benchRun(tb testing.TB, doc string) engine.Run {
	var wf v1alpha1.Workflow
	if err := yaml.Unmarshal([]byte(doc), &wf); err != nil {
		tb.Fatal(err)
	}
	wf.Name, wf.Namespace, wf.UID = "bench", "default", "uid"
	return engine.RunOf(&wf)
}

// advanceTo applies inputs and keeps the resulting status, as persistence would.
func advanceTo(tb testing.TB, run *engine.Run, at time.Time, inputs ...engine.Input) {
	for _, in := range inputs {
		out, err := testEngine.Advance(*run, in, at)
		if err != nil {
			tb.Fatal(err)
		}
		run.Status = out.Status
	}
}

func succeed(id string) engine.Input {
	res := "ok"
	return engine.Input{Kind: engine.StepResult, Result: &engine.Result{NodeID: id, Phase: v1alpha1.NodeSucceeded, Outputs: &v1alpha1.NodeOutputs{Result: &res}}}
}

// BenchmarkAdvanceDAG1000 applies one step result to a 1,000-task DAG that
// is half done (500 succeeded, 100 running).
func BenchmarkAdvanceDAG1000(b *testing.B) {
	const width, depth = 100, 10
	run := benchRun(b, wideDAG(width, depth))
	advanceTo(b, &run, t0, engine.Input{Kind: engine.Submit})
	for l := range depth / 2 {
		for i := range width {
			advanceTo(b, &run, t0.Add(time.Duration(l)*time.Second), succeed(fmt.Sprintf("main.t%d-%d", l, i)))
		}
	}
	in := succeed(fmt.Sprintf("main.t%d-0", depth/2))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := testEngine.Advance(run, in, t0.Add(time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	reportSize(b, run.Status)
}

// BenchmarkAdvanceLoop10000 applies one step result to a 10,000-item loop
// with half the items done.
func BenchmarkAdvanceLoop10000(b *testing.B) {
	const items = 10000
	run := benchRun(b, loopWF(items))
	advanceTo(b, &run, t0, engine.Input{Kind: engine.Submit})
	for i := range items / 2 {
		advanceTo(b, &run, t0.Add(time.Duration(i)*time.Millisecond), succeed(fmt.Sprintf("main.fan(%d)", i)))
	}
	in := succeed(fmt.Sprintf("main.fan(%d)", items/2))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := testEngine.Advance(run, in, t0.Add(time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	reportSize(b, run.Status)
}

// BenchmarkSubmitLoop10000 starts a 10,000-item loop: one advance that
// creates and dispatches every item.
func BenchmarkSubmitLoop10000(b *testing.B) {
	run := benchRun(b, loopWF(10000))
	b.ReportAllocs()
	for b.Loop() {
		out, err := testEngine.Advance(run, engine.Input{Kind: engine.Submit}, t0)
		if err != nil {
			b.Fatal(err)
		}
		if len(out.Dispatch) != 10000 {
			b.Fatalf("%d dispatches", len(out.Dispatch))
		}
	}
}

// TestStatusSizeOf10000Nodes is the size guard behind the benchmark figure:
// a finished 10,000-node loop must stay far below etcd's 1.5 MiB limit.
func TestStatusSizeOf10000Nodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 10,000-node status")
	}
	const items = 10000
	run := benchRun(t, loopWF(items))
	advanceTo(t, &run, t0, engine.Input{Kind: engine.Submit})
	for i := range items {
		advanceTo(t, &run, t0.Add(time.Duration(i)*37*time.Millisecond), succeed(fmt.Sprintf("main.fan(%d)", i)))
	}
	if run.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Fatalf("phase %s", run.Status.Phase)
	}
	raw, err := json.Marshal(run.Status)
	if err != nil {
		t.Fatal(err)
	}
	perNode := float64(len(raw)) / float64(len(run.Status.Nodes))
	t.Logf("status of %d nodes: %d bytes, %.1f bytes/node", len(run.Status.Nodes), len(raw), perNode)
	if len(raw) > 1024*1024 {
		t.Errorf("status is %d bytes, want under 1 MiB (etcd's limit is 1.5 MiB)", len(raw))
	}
}

func reportSize(b *testing.B, s v1alpha1.WorkflowStatus) {
	raw, err := json.Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(raw))/float64(len(s.Nodes)), "status-B/node")
	b.ReportMetric(float64(len(s.Nodes)), "nodes")
}
