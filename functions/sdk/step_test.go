package sdk_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

func stepRun(t *testing.T, params map[string]string, deadline *time.Time) event.Event {
	t.Helper()
	run := events.StepRun{Workflow: "wf-1", Namespace: "default", UID: "u1", NodeID: "main.parse", Attempt: 2, Deadline: deadline,
		Template: v1alpha1.Template{Name: "parse", Function: &v1alpha1.FunctionTemplate{Name: "parse", Payload: "p"}}}
	for k, v := range params {
		run.Template.Inputs.Parameters = append(run.Template.Inputs.Parameters, v1alpha1.Parameter{Name: k, Value: v1alpha1.ParseAnyString(v)})
	}
	e := event.New()
	e.SetID("u1/main.parse/2")
	e.SetType(events.TypeStepRun)
	e.SetSource("/zeroflow/controller")
	e.SetExtension(events.ExtWorkflow, "wf-1")
	e.SetExtension(events.ExtNode, "main.parse")
	e.SetExtension(events.ExtAttempt, "2")
	e.SetExtension(events.ExtFunction, "parse")
	e.SetExtension(events.ExtStepToken, "tok-u1-main.parse-2")
	if err := e.SetData(event.ApplicationJSON, run); err != nil {
		t.Fatal(err)
	}
	return e
}

// The controller accepts a result only with its dispatch's token: every
// reply, whatever the step did, echoes it.
func TestStepReplyEchoesTheToken(t *testing.T) {
	for name, fn := range map[string]sdk.StepFunc{
		"succeeded": func(context.Context, sdk.StepInput) (sdk.StepOutput, error) { return sdk.StepOutput{}, nil },
		"failed": func(context.Context, sdk.StepInput) (sdk.StepOutput, error) {
			return sdk.StepOutput{}, errors.New("no")
		},
		"panicked": func(context.Context, sdk.StepInput) (sdk.StepOutput, error) { panic("boom") },
	} {
		t.Run(name, func(t *testing.T) {
			reply, err := sdk.Step(fn, sdk.StepOptions{Artifacts: sdk.DirArtifacts{Dir: t.TempDir()}}).Handle(context.Background(), stepRun(t, nil, nil))
			if err != nil {
				t.Fatal(err)
			}
			if got := events.Extension(*reply, events.ExtStepToken); got != "tok-u1-main.parse-2" {
				t.Errorf("reply token %q, want the step.run's", got)
			}
		})
	}
	// A step.run without a token (an older controller) gets a reply
	// without one, not an empty one.
	run := stepRun(t, nil, nil)
	run.SetExtension(events.ExtStepToken, nil)
	reply, err := sdk.Step(func(context.Context, sdk.StepInput) (sdk.StepOutput, error) { return sdk.StepOutput{}, nil },
		sdk.StepOptions{Artifacts: sdk.DirArtifacts{Dir: t.TempDir()}}).Handle(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := reply.Extensions()[events.ExtStepToken]; ok {
		t.Errorf("reply has a %s extension the step.run did not", events.ExtStepToken)
	}
}

func result(t *testing.T, reply *event.Event) events.StepResult {
	t.Helper()
	if reply == nil {
		t.Fatal("no reply")
	}
	var r events.StepResult
	if err := reply.DataAs(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestStepRepliesWithTheResult(t *testing.T) {
	dir := t.TempDir()
	h := sdk.Step(func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		sdk.Logger(ctx).Info("parsing", "bytes", len(in.Param("records")))
		for i := range 30 {
			sdk.Logger(ctx).Debug("record", "i", i)
		}
		res := strings.ToUpper(in.Param("records"))
		return sdk.StepOutput{Parameters: map[string]string{"count": "3", "payload": in.Payload()}, Result: &res}, nil
	}, sdk.StepOptions{Artifacts: sdk.DirArtifacts{Dir: dir}, LogTailLines: 5})
	reply, err := h.Handle(context.Background(), stepRun(t, map[string]string{"records": "abc"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if reply.Type() != events.TypeStepResult || reply.ID() != "u1/main.parse/2" {
		t.Errorf("reply %s %s", reply.Type(), reply.ID())
	}
	for _, ext := range []string{events.ExtWorkflow, events.ExtNode, events.ExtAttempt, events.ExtFunction} {
		if reply.Extensions()[ext] == nil {
			t.Errorf("reply lacks %s", ext)
		}
	}
	r := result(t, reply)
	if r.Phase != v1alpha1.NodeSucceeded || r.Outputs.Parameters["count"] != "3" || r.Outputs.Parameters["payload"] != "p" || *r.Outputs.Result != "ABC" {
		t.Errorf("result %+v outputs %+v", r, r.Outputs)
	}
	if len(r.LogTail) != 5 || !strings.Contains(r.LogTail[4], "i=29") {
		t.Errorf("log tail %q", r.LogTail)
	}
	if r.LogKey != "logs/default/wf-1/main.parse/2.log" {
		t.Errorf("log key %q", r.LogKey)
	}
	full, err := os.ReadFile(filepath.Join(dir, r.LogKey))
	if err != nil || strings.Count(string(full), "\n") != 31 || !strings.Contains(string(full), "msg=parsing") {
		t.Errorf("full log (%v):\n%s", err, full)
	}
	if r.FinishedAt.Before(r.StartedAt) || r.StartedAt.IsZero() {
		t.Errorf("timings %v %v", r.StartedAt, r.FinishedAt)
	}
}

func TestStepFailures(t *testing.T) {
	cases := map[string]struct {
		fn      sdk.StepFunc
		phase   v1alpha1.NodePhase
		message string
	}{
		"an error fails the step": {func(context.Context, sdk.StepInput) (sdk.StepOutput, error) {
			return sdk.StepOutput{}, errors.New("no records")
		}, v1alpha1.NodeFailed, "no records"},
		"Errored ends it in Error": {func(context.Context, sdk.StepInput) (sdk.StepOutput, error) {
			return sdk.StepOutput{}, sdk.Errored(errors.New("store down"))
		}, v1alpha1.NodeError, "store down"},
		"a panic ends it in Error": {func(context.Context, sdk.StepInput) (sdk.StepOutput, error) {
			panic("index out of range")
		}, v1alpha1.NodeError, "panic: index out of range"},
		"the deadline reaches the function": {func(ctx context.Context, _ sdk.StepInput) (sdk.StepOutput, error) {
			<-ctx.Done()
			return sdk.StepOutput{}, ctx.Err()
		}, v1alpha1.NodeFailed, "context deadline exceeded"},
	}
	deadline := time.Now().Add(50 * time.Millisecond)
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			reply, err := sdk.Step(c.fn).Handle(context.Background(), stepRun(t, nil, &deadline))
			if err != nil {
				t.Fatal(err)
			}
			r := result(t, reply)
			if r.Phase != c.phase || !strings.Contains(r.Message, c.message) {
				t.Errorf("phase %s message %q, want %s %q", r.Phase, r.Message, c.phase, c.message)
			}
		})
	}
}

func TestStepRefusesOtherEvents(t *testing.T) {
	h := sdk.Step(func(context.Context, sdk.StepInput) (sdk.StepOutput, error) { return sdk.StepOutput{}, nil })
	url := serve(t, h, sdk.Options{})
	if resp := post(t, url, newEvent("x", "not.a.step")); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("another event type: %d, want 400", resp.StatusCode)
	}
	bad := stepRun(t, nil, nil)
	_ = bad.SetData(event.ApplicationJSON, "not an object")
	if resp := post(t, url, bad); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("undecodable data: %d, want 400", resp.StatusCode)
	}
	resp := post(t, url, stepRun(t, nil, nil))
	reply, err := binding.ToEvent(context.Background(), cehttp.NewMessageFromHttpResponse(resp))
	if err != nil || reply.Type() != events.TypeStepResult {
		t.Errorf("a step.run over HTTP: %d %v %v", resp.StatusCode, reply, err)
	}
}
