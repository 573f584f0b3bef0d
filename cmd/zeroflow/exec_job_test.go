package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// jobBroker stands in for the Broker a Job's pod posts to: it refuses the
// first step.result with 503 (the broker not reachable yet) and keeps
// every event it accepts.
type jobBroker struct {
	mu       sync.Mutex
	accepted []event.Event
	refused  int
}

func (b *jobBroker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ev, err := binding.ToEvent(r.Context(), cehttp.NewMessageFromHttpRequest(r))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if ev.Type() == events.TypeStepResult && b.refused == 0 {
		b.refused++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	b.accepted = append(b.accepted, *ev)
	w.WriteHeader(http.StatusAccepted)
}

func (b *jobBroker) ofType(typ string) []event.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []event.Event
	for _, e := range b.accepted {
		if e.Type() == typ {
			out = append(out, e)
		}
	}
	return out
}

// writeJobEvent writes a step.run where a JobSink mounts it
// ($K_EVENT_PATH/event), as the structured JSON JobSink stores.
func writeJobEvent(t *testing.T, typ string, run events.StepRun) string {
	t.Helper()
	ev := event.New()
	ev.SetID("uid-7/main/0")
	ev.SetType(typ)
	ev.SetSource("/zeroflow/controller")
	ev.SetExtension(events.ExtFunction, "exec")
	ev.SetExtension(events.ExtWorkflow, "long")
	ev.SetExtension(events.ExtNode, "main")
	ev.SetExtension(events.ExtStepToken, "tok-7")
	if err := ev.SetData(event.ApplicationJSON, run); err != nil {
		t.Fatal(err)
	}
	b, err := ev.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "jobsink-event")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "event"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestExecJobRunsTheStepAndSendsItsResult runs `zeroflow function
// exec-job` as a JobSink's pod runs it: a real process, the event in
// $K_EVENT_PATH, the broker in $K_SINK (an HTTP receiver on loopback).
// The script step runs, heartbeats arrive while it runs, the result's
// first send is refused and retried, and exactly one step.result carries
// the step's output and the step.run's token. A step.run of the wrong
// type exits 1 and sends nothing.
func TestExecJobRunsTheStepAndSendsItsResult(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	broker := &jobBroker{}
	srv := httptest.NewServer(broker)
	defer srv.Close()
	run := func(eventDir string) (int, string) {
		cmd := exec.Command(bin, "function", "exec-job")
		cmd.Env = append(os.Environ(), "K_EVENT_PATH="+eventDir, "K_SINK="+srv.URL, "ZEROFLOW_ARTIFACTS="+t.TempDir(), "ZEROFLOW_OIDC_TOKEN_FILE=")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), out.String()
	}

	step := events.StepRun{Workflow: "long", Namespace: "default", UID: "uid-7", NodeID: "main", HeartbeatSeconds: 1, LostAfterSeconds: 30,
		Template: v1alpha1.Template{Name: "main", Script: &v1alpha1.ScriptTemplate{
			ContainerTemplate: v1alpha1.ContainerTemplate{Image: "alpine", Command: []string{"sh"}},
			Source:            "sleep 2.5; echo done after the heartbeats",
		}}}
	code, out := run(writeJobEvent(t, events.TypeStepRun, step))
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	results := broker.ofType(events.TypeStepResult)
	if len(results) != 1 || broker.refused != 1 {
		t.Fatalf("%d results accepted after %d refused, want 1 after 1:\n%s", len(results), broker.refused, out)
	}
	var res events.StepResult
	if err := results[0].DataAs(&res); err != nil {
		t.Fatal(err)
	}
	if res.Phase != v1alpha1.NodeSucceeded || res.Outputs == nil || res.Outputs.Result == nil || strings.TrimSpace(*res.Outputs.Result) != "done after the heartbeats" {
		t.Errorf("result %s %+v %s", res.Phase, res.Outputs, res.Message)
	}
	if results[0].ID() != "uid-7/main/0" || events.Extension(results[0], events.ExtStepToken) != "tok-7" || events.Extension(results[0], events.ExtFunction) != "exec" {
		t.Errorf("result %s carries token %q and function %q", results[0].ID(), events.Extension(results[0], events.ExtStepToken), events.Extension(results[0], events.ExtFunction))
	}
	if hb := broker.ofType(events.TypeStepHeartbeat); len(hb) < 1 {
		t.Errorf("no heartbeat while a 2.5 s step ran with heartbeatSeconds 1:\n%s", out)
	}

	before := len(broker.ofType(events.TypeStepResult))
	code, out = run(writeJobEvent(t, events.TypeWorkflowSubmit, step))
	if code != 1 || !strings.Contains(out, "not a step.run") {
		t.Errorf("a workflow.submit in the event file: exit %d:\n%s", code, out)
	}
	if after := len(broker.ofType(events.TypeStepResult)); after != before {
		t.Errorf("%d results sent for a foreign event", after-before)
	}
}
