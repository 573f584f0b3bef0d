package engine_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

// t0 is when every test workflow is submitted.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// step is one input and what must hold after it.
type step struct {
	in Input
	// at is the time of the input, after t0.
	at time.Duration
	// nodes, when set, is the exact set of nodes and their phases.
	nodes map[string]v1alpha1.NodePhase
	// dispatch, when set, is the exact list of dispatched "id" or
	// "id#attempt" (attempt > 0), in order. Use none for an empty list.
	dispatch []string
	// wake, when set, is WakeAt after t0; use noWake for none.
	wake *time.Duration
	// finished is the workflow phase if the workflow finished on this input.
	finished v1alpha1.WorkflowPhase
	// message must be contained in the workflow's message, when set.
	message string
	// nodeMessages: node ID → substring of its message.
	nodeMessages map[string]string
	// ignored must be contained in Outcome.Ignored, when set.
	ignored string
	// check runs extra assertions.
	check func(t *testing.T, o engine.Outcome)
}

// Input wraps engine.Input so cases read short.
type Input = engine.Input

var none = []string{}

func wakeAt(d time.Duration) *time.Duration { return &d }

var noWake = wakeAt(-1)

type engineCase struct {
	name string
	wf   string
	// invalid marks a workflow that validation rejects; the engine must
	// still handle it without a crash, as when validation was skipped.
	invalid bool
	steps   []step
}

func submit() Input { return Input{Kind: engine.Submit} }
func tick() Input   { return Input{Kind: engine.Tick} }

func stop(s v1alpha1.ShutdownStrategy) Input { return Input{Kind: engine.Stop, Strategy: s} }

func resume(nodes ...string) Input { return Input{Kind: engine.Resume, Nodes: nodes} }

func result(id string, attempt int32, phase v1alpha1.NodePhase, msg string, outs *v1alpha1.NodeOutputs) Input {
	return Input{Kind: engine.StepResult, Result: &engine.Result{NodeID: id, Attempt: attempt, Phase: phase, Message: msg, Outputs: outs}}
}

func ok(id string) Input      { return result(id, 0, v1alpha1.NodeSucceeded, "", nil) }
func fail(id string) Input    { return result(id, 0, v1alpha1.NodeFailed, "exit status 1", nil) }
func errored(id string) Input { return result(id, 0, v1alpha1.NodeError, "function crashed", nil) }

func failAttempt(id string, attempt int32) Input {
	return result(id, attempt, v1alpha1.NodeFailed, "exit status 1", nil)
}

func okAttempt(id string, attempt int32) Input {
	return result(id, attempt, v1alpha1.NodeSucceeded, "", nil)
}

// okResult succeeds a node with outputs.result.
func okResult(id, res string) Input {
	return result(id, 0, v1alpha1.NodeSucceeded, "", &v1alpha1.NodeOutputs{Result: &res})
}

// okParams succeeds a node with output parameters "k=v".
func okParams(id string, kv ...string) Input {
	p := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		p[k] = v
	}
	return result(id, 0, v1alpha1.NodeSucceeded, "", &v1alpha1.NodeOutputs{Parameters: p})
}

// P builds an expected phase map from "id=Phase" pairs.
func P(pairs ...string) map[string]v1alpha1.NodePhase {
	m := map[string]v1alpha1.NodePhase{}
	for _, s := range pairs {
		k, v, found := strings.Cut(s, "=")
		if !found {
			panic("P: want id=Phase, got " + s)
		}
		m[k] = v1alpha1.NodePhase(v)
	}
	return m
}

const (
	Running   = "Running"
	Succeeded = "Succeeded"
	Failed    = "Failed"
	Errored   = "Error"
	Skipped   = "Skipped"
	Omitted   = "Omitted"
)

func parseWorkflow(t *testing.T, doc string) *v1alpha1.Workflow {
	t.Helper()
	var wf v1alpha1.Workflow
	if err := yaml.UnmarshalStrict([]byte(doc), &wf); err != nil {
		t.Fatalf("parse workflow: %v", err)
	}
	if wf.Name == "" {
		wf.Name = "wf"
	}
	wf.Namespace = "default"
	wf.UID = "uid-1"
	return &wf
}

// roundTrip stores and reloads a status, as the API server would.
func roundTrip(t *testing.T, s v1alpha1.WorkflowStatus) v1alpha1.WorkflowStatus {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("marshal status: %v", err)
	}
	var out v1alpha1.WorkflowStatus
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal status: %v", err)
	}
	return out
}

func runCase(t *testing.T, c engineCase) {
	wf := parseWorkflow(t, c.wf)
	errs := v1alpha1.ValidateWorkflow(wf)
	if c.invalid != (len(errs) > 0) {
		t.Fatalf("invalid = %v, but validation says: %v", c.invalid, errs.ToAggregate())
	}
	run := engine.RunOf(wf)
	for i, s := range c.steps {
		label := fmt.Sprintf("step %d (%s", i, s.in.Kind)
		if s.in.Result != nil {
			label += " " + s.in.Result.NodeID + " " + string(s.in.Result.Phase)
		}
		label += ")"
		now := t0.Add(s.at)
		before := run.Status.DeepCopy()
		out, err := testEngine.Advance(run, s.in, now)
		if err != nil {
			t.Fatalf("%s: Advance: %v", label, err)
		}
		again, _ := testEngine.Advance(run, s.in, now)
		if !reflect.DeepEqual(out, again) {
			t.Fatalf("%s: Advance is not deterministic", label)
		}
		checkInvariants(t, label, before, out)
		if s.nodes != nil {
			got := map[string]v1alpha1.NodePhase{}
			for id, n := range out.Status.Nodes {
				got[id] = n.Phase
			}
			if !reflect.DeepEqual(got, s.nodes) {
				t.Errorf("%s: nodes\n got  %s\n want %s", label, phaseList(got), phaseList(s.nodes))
			}
		}
		if s.dispatch != nil {
			var got []string
			for _, d := range out.Dispatch {
				id := d.NodeID
				if d.Attempt > 0 {
					id = fmt.Sprintf("%s#%d", id, d.Attempt)
				}
				got = append(got, id)
			}
			if strings.Join(got, ",") != strings.Join(s.dispatch, ",") {
				t.Errorf("%s: dispatch = %v, want %v", label, got, s.dispatch)
			}
		}
		if s.wake != nil {
			var got time.Duration = -1
			if !out.WakeAt.IsZero() {
				got = out.WakeAt.Sub(t0)
			}
			if got != *s.wake {
				t.Errorf("%s: wake = %v, want %v", label, got, *s.wake)
			}
		}
		if s.finished != "" {
			if out.Finished == nil {
				t.Errorf("%s: not finished, want %s (phase %s, message %q)", label, s.finished, out.Status.Phase, out.Status.Message)
			} else if out.Finished.Phase != s.finished || out.Status.Phase != s.finished {
				t.Errorf("%s: finished %s (status %s), want %s; message %q", label, out.Finished.Phase, out.Status.Phase, s.finished, out.Status.Message)
			}
		} else if out.Finished != nil {
			t.Errorf("%s: finished %s unexpectedly: %q", label, out.Finished.Phase, out.Finished.Message)
		}
		if s.message != "" && !strings.Contains(out.Status.Message, s.message) {
			t.Errorf("%s: message %q does not contain %q", label, out.Status.Message, s.message)
		}
		for id, want := range s.nodeMessages {
			if got := out.Status.Nodes[id].Message; !strings.Contains(got, want) {
				t.Errorf("%s: node %s message %q does not contain %q", label, id, got, want)
			}
		}
		if s.ignored != "" && !strings.Contains(out.Ignored, s.ignored) {
			t.Errorf("%s: ignored %q does not contain %q", label, out.Ignored, s.ignored)
		}
		if s.check != nil {
			s.check(t, out)
		}
		if t.Failed() {
			t.Logf("%s: status %s", label, statusDump(out.Status))
			return
		}
		run.Status = roundTrip(t, out.Status)
		if p := out.SpecPatch; p != nil {
			if p.Shutdown != "" {
				run.Spec.Shutdown = p.Shutdown
			}
			if p.Suspend != nil {
				run.Spec.Suspend = p.Suspend
			}
		}
	}
}

// checkInvariants holds for every advance of every case.
func checkInvariants(t *testing.T, label string, before *v1alpha1.WorkflowStatus, out engine.Outcome) {
	t.Helper()
	for id, old := range before.Nodes {
		n, ok := out.Status.Nodes[id]
		if !ok {
			t.Errorf("%s: node %s disappeared", label, id)
			continue
		}
		if old.Phase.Fulfilled() && !reflect.DeepEqual(old, n) {
			t.Errorf("%s: fulfilled node %s changed: %+v → %+v", label, id, old, n)
		}
	}
	for _, d := range out.Dispatch {
		n, ok := out.Status.Nodes[d.NodeID]
		if !ok || n.Phase != v1alpha1.NodeRunning || n.Type != v1alpha1.NodeTypeLeaf || n.Retries != d.Attempt || n.RetryAt != 0 {
			t.Errorf("%s: dispatch of %s#%d, but the node is %+v", label, d.NodeID, d.Attempt, n)
		}
	}
	if before.Phase.Completed() && !reflect.DeepEqual(*before, out.Status) {
		t.Errorf("%s: a completed workflow changed", label)
	}
}

func phaseList(m map[string]v1alpha1.NodePhase) string {
	var ids []string
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "%s=%s ", id, m[id])
	}
	return b.String()
}

func statusDump(s v1alpha1.WorkflowStatus) string {
	b, _ := json.MarshalIndent(s, "", "  ")
	return string(b)
}

func runCases(t *testing.T, cases []engineCase) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("duplicate case name %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) { runCase(t, c) })
	}
}

// testEngine is shared by the cases, as a controller shares one.
var testEngine = engine.New()
