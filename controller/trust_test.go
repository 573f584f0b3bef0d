package controller_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// gated is a workflow whose first step waits for the test, and whose
// second uses the first's result: a forged result would show there.
const gated = `
metadata: {name: bound}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: gate, template: gate}
      - {name: use, template: use, depends: gate, arguments: {parameters: [{name: v, value: "{{tasks.gate.outputs.result}}"}]}}
  - name: gate
    function: {name: gate}
  - name: use
    inputs: {parameters: [{name: v}]}
    function: {name: use}
`

// forgedResult is a step.result with the right id and routing, as anyone
// who can read the Workflow (its UID) can make it.
func forgedResult(t *testing.T, run event.Event, source, token string) event.Event {
	t.Helper()
	ev := event.New()
	ev.SetID(run.ID())
	ev.SetType(events.TypeStepResult)
	ev.SetSource(source)
	for _, ext := range []string{events.ExtWorkflow, events.ExtNamespace, events.ExtNode, events.ExtAttempt, events.ExtFunction} {
		ev.SetExtension(ext, run.Extensions()[ext])
	}
	if token != "" {
		ev.SetExtension(events.ExtStepToken, token)
	}
	forged := "forged"
	if err := ev.SetData(event.ApplicationJSON, events.StepResult{Phase: v1alpha1.NodeSucceeded, Outputs: &v1alpha1.NodeOutputs{Result: &forged}}); err != nil {
		t.Fatal(err)
	}
	return ev
}

func wantStatus(t *testing.T, err error, code int, what string) {
	t.Helper()
	var se *sdk.StatusError
	if !errors.As(err, &se) || se.Code != code {
		t.Fatalf("%s: got %v, want status %d", what, err, code)
	}
}

func waitLog(t *testing.T, substrings ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, line := range strings.Split(logs.String(), "\n") {
			all := true
			for _, s := range substrings {
				all = all && strings.Contains(line, s)
			}
			if all {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q; tail:\n%s", substrings, logs.tail(30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func wantHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// A step.result is bound to its dispatch: one with the right id but no
// token, or a wrong one, is refused (403, not retried) and changes
// nothing; the step's heartbeats keep it alive; the real result still
// completes the step with its own output; the token is in no log and not
// in the status.
func TestAForgedResultIsRefusedAndTheRealOneCompletesTheStep(t *testing.T) {
	ns := uniqueNamespace("bound")
	runs := make(chan event.Event, 16)
	release := make(chan struct{})
	gate := sdk.Step(func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return sdk.StepOutput{}, ctx.Err()
		}
		r := "real-output"
		return sdk.StepOutput{Result: &r}, nil
	}, sdk.StepOptions{Artifacts: sdk.DirArtifacts{Dir: artifacts}})
	userFns.set(t, "gate", sdk.HandlerFunc(func(ctx context.Context, ev event.Event) (*event.Event, error) {
		runs <- ev
		return gate.Handle(ctx, ev)
	}))
	step(t, "use", func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		v := "used " + in.Param("v")
		return sdk.StepOutput{Result: &v}, nil
	})
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	wf := workflow(t, gated)
	wf.Namespace = ns
	if _, err := client.CreateWorkflow(context.Background(), wf); err != nil {
		t.Fatal(err)
	}
	var first event.Event
	select {
	case first = <-runs:
	case <-time.After(15 * time.Second):
		t.Fatalf("the gate step never ran; log:\n%s", logs.tail(30))
	}
	token := events.Extension(first, events.ExtStepToken)
	if len(token) < 40 {
		t.Fatalf("step.run token %q: want an HMAC-SHA256 in base64url", token)
	}
	node := events.Extension(first, events.ExtNode)

	// Handed straight to the controller: refused, 403.
	_, err := ctrl.Handle(context.Background(), forgedResult(t, first, "/forger/direct", ""))
	wantStatus(t, err, http.StatusForbidden, "a result without a token")
	wrong := token[:len(token)-4] + "AAAA"
	if wrong == token {
		wrong = token[:len(token)-4] + "BBBB"
	}
	_, err = ctrl.Handle(context.Background(), forgedResult(t, first, "/forger/direct", wrong))
	wantStatus(t, err, http.StatusForbidden, "a result with a wrong token")
	if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), wrong) {
		t.Errorf("the refusal names a token: %v", err)
	}
	// Through the real broker, as an attacker on the event plane would.
	for source, tok := range map[string]string{"/forger/none": "", "/forger/wrong": wrong} {
		if err := bus.Publish(context.Background(), "default", "default", forgedResult(t, first, source, tok)); err != nil {
			t.Fatalf("publish: %v", err)
		}
		waitLog(t, "step.result refused", "source="+source, "node="+node)
	}
	cur, err := client.GetWorkflow(context.Background(), ns, "bound")
	if err != nil {
		t.Fatal(err)
	}
	n := cur.Status.Nodes[node]
	if n.Phase != v1alpha1.NodeRunning || n.Outputs != nil {
		t.Fatalf("after the forged results node %s is %s with %+v; want Running with no outputs", node, n.Phase, n.Outputs)
	}
	if n.TokenHash != wantHash(token) {
		t.Errorf("node tokenHash %q, want the hash of the dispatched token %q", n.TokenHash, wantHash(token))
	}
	raw, _ := json.Marshal(cur.Status)
	if strings.Contains(string(raw), token) {
		t.Errorf("the running status holds the token: %s", raw)
	}

	// No result for longer than LostAfter (3s here) and StartTimeout
	// (10s): the step heartbeats (every second), so it is neither lost
	// nor sent again.
	time.Sleep(11 * time.Second)
	select {
	case again := <-runs:
		t.Fatalf("step.run %s sent again while the step heartbeats", again.ID())
	default:
	}
	cur, err = client.GetWorkflow(context.Background(), ns, "bound")
	if err != nil {
		t.Fatal(err)
	}
	if n := cur.Status.Nodes[node]; n.Phase != v1alpha1.NodeRunning || n.Runner == "" || n.Heartbeat == 0 {
		t.Fatalf("after 11s of heartbeats node %s is %+v; want Running with a runner and a heartbeat time", node, n)
	}

	close(release)
	released = true
	done := waitDone(t, ns, "bound", 20*time.Second)
	if done.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Fatalf("phase %s: %s", done.Status.Phase, done.Status.Message)
	}
	if r := done.Status.Nodes[node].Outputs; r == nil || r.Result == nil || *r.Result != "real-output" {
		t.Errorf("gate outputs %+v, want the real function's", r)
	}
	for id, n := range done.Status.Nodes {
		if strings.HasSuffix(id, ".use") && (n.Outputs == nil || n.Outputs.Result == nil || *n.Outputs.Result != "used real-output") {
			t.Errorf("the next step got %+v, want the real output", n.Outputs)
		}
		if n.TokenHash != "" {
			t.Errorf("finished node %s keeps a token hash", id)
		}
	}
	raw, _ = json.Marshal(done.Status)
	if strings.Contains(string(raw), token) {
		t.Errorf("the status holds the token")
	}
	if l := logs.String(); strings.Contains(l, token) || strings.Contains(l, wrong) {
		t.Errorf("a token is in the log")
	}
}

// A submit acts in the namespace of its verified sender only, unless a
// cluster admin allowed the pair; without a verified sender, the
// workflow's namespace must agree with the event's zfnamespace.
func TestASubmitStaysInItsSendersNamespace(t *testing.T) {
	step(t, "ok", func(context.Context, sdk.StepInput) (sdk.StepOutput, error) { return sdk.StepOutput{}, nil })
	a, b := uniqueNamespace("team-a"), uniqueNamespace("team-b")
	from := func(ns string) context.Context {
		return sdk.WithCaller(context.Background(), sdk.Caller{Subject: sdk.ServiceAccountSubject(ns, "oidc-trigger")})
	}
	wfIn := func(ns, name string) *v1alpha1.Workflow {
		wf := workflow(t, `
metadata: {name: `+name+`}
spec:
  entrypoint: main
  templates:
  - name: main
    function: {name: ok}
`)
		wf.Namespace = ns
		return wf
	}
	created := func(ns, name string) bool {
		_, err := client.GetWorkflow(context.Background(), ns, name)
		return err == nil
	}

	// The happy path: sender and workflow in one namespace.
	if _, err := ctrl.Handle(from(a), submitEvent(t, a+"/own", wfIn(a, "own"))); err != nil {
		t.Fatalf("a submit in the sender's namespace: %v", err)
	}
	if done := waitDone(t, a, "own", 15*time.Second); done.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Fatalf("own: %s", done.Status.Phase)
	}
	// No namespace anywhere: the sender's.
	if _, err := ctrl.Handle(from(a), submitEvent(t, a+"/bare", wfIn("", "bare"))); err != nil {
		t.Fatalf("a submit without a namespace: %v", err)
	}
	if !created(a, "bare") {
		t.Errorf("a workflow without a namespace did not land in the sender's")
	}

	// The attack: a sender in a starts a workflow in b.
	_, err := ctrl.Handle(from(a), submitEvent(t, a+"/cross", wfIn(b, "cross")))
	wantStatus(t, err, http.StatusForbidden, "a submit to another namespace")
	if !strings.Contains(err.Error(), `"`+a+`"`) || !strings.Contains(err.Error(), `"`+b+`"`) || !strings.Contains(err.Error(), "--allow-cross-namespace") {
		t.Errorf("the refusal does not name the namespaces and how to allow it: %v", err)
	}
	if created(b, "cross") {
		t.Errorf("a cross-namespace submit created its workflow")
	}
	// A sender that is no ServiceAccount has no namespace of its own.
	_, err = ctrl.Handle(sdk.WithCaller(context.Background(), sdk.Caller{Subject: "someone"}), submitEvent(t, a+"/anon", wfIn(a, "anon")))
	wantStatus(t, err, http.StatusForbidden, "a submit from a subject without a namespace")
	// No verified sender: the event's namespace and the workflow's differ.
	ev := submitEvent(t, a+"/claim", wfIn(b, "claim"))
	ev.SetExtension(events.ExtNamespace, a)
	_, err = ctrl.Handle(context.Background(), ev)
	wantStatus(t, err, http.StatusForbidden, "a submit whose zfnamespace is not its workflow's")
	if created(b, "claim") {
		t.Errorf("a submit with a contradicting zfnamespace created its workflow")
	}

	// A cluster admin allows a into b, and only that: another instance
	// with that setting (its own token key: the results it dispatched
	// reach the tests' controller, which checks them by the hash in the
	// status).
	wide, err := controller.New(controller.Config{
		Client:         client,
		Send:           func(ctx context.Context, ev event.Event) error { return bus.Publish(ctx, "default", "default", ev) },
		CrossNamespace: []controller.NamespacePair{{From: a, To: b}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wide.Handle(from(a), submitEvent(t, a+"/allowed", wfIn(b, "allowed"))); err != nil {
		t.Fatalf("an allowed cross-namespace submit: %v", err)
	}
	if done := waitDone(t, b, "allowed", 15*time.Second); done.Status.Phase != v1alpha1.WorkflowSucceeded {
		t.Fatalf("allowed: %s %s", done.Status.Phase, done.Status.Message)
	}
	_, err = wide.Handle(from(b), submitEvent(t, b+"/back", wfIn(a, "back")))
	wantStatus(t, err, http.StatusForbidden, "the reverse of an allowed pair")
}
