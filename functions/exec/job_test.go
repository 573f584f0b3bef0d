package exec_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
	"github.com/zeroflow-dev/zeroflow/functions/exec"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// receiver is a broker stand-in on loopback: it answers the first fail
// requests with code, then 202, and keeps what it took.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	got      []event.Event
	attempts atomic.Int32
}

func newReceiver(t *testing.T, fail int32, code int) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.attempts.Add(1) <= fail {
			w.WriteHeader(code)
			return
		}
		ev, err := binding.ToEvent(req.Context(), cehttp.NewMessageFromHttpRequest(req))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, *ev)
		r.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) events(typ string) []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []event.Event
	for _, e := range r.got {
		if e.Type() == typ {
			out = append(out, e)
		}
	}
	return out
}

// jobEvent writes a step.run as a JobSink writes it into its Job's Secret
// (the structured JSON of the event).
func jobEvent(t *testing.T, typ, function string, data events.StepRun) string {
	t.Helper()
	run := event.New()
	run.SetID("uid-1/main/0")
	run.SetType(typ)
	run.SetSource("/zeroflow/controller")
	run.SetExtension(events.ExtFunction, function)
	run.SetExtension(events.ExtStepToken, "tok-1")
	if err := run.SetData(event.ApplicationJSON, data); err != nil {
		t.Fatal(err)
	}
	b, err := run.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "event")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func scriptRun(src string) events.StepRun {
	return events.StepRun{Workflow: "w", Namespace: "default", UID: "uid-1", NodeID: "main",
		Template: v1alpha1.Template{Name: "main", Script: script(src)}}
}

func jobOptions(t *testing.T, file, sink string) exec.JobOptions {
	return exec.JobOptions{
		Exec:      exec.Options{WorkDir: t.TempDir(), Artifacts: sdk.DirArtifacts{Dir: t.TempDir()}},
		EventFile: file,
		Sender:    sdk.NewSender(sink),
		SendFor:   5 * time.Second,
	}
}

// The runner takes the exec function's events only.
func TestJobFunctionNameIsTheEngines(t *testing.T) {
	if exec.FunctionName != engine.FunctionExec {
		t.Errorf("exec.FunctionName %q, the engine routes %q", exec.FunctionName, engine.FunctionExec)
	}
}

// A Job's step runs, and its result reaches the broker even when the broker
// refuses the first sends (the pod started before it was reachable), with
// the step token of the step.run.
func TestRunJobSendsTheResultThroughRefusals(t *testing.T) {
	broker := newReceiver(t, 3, http.StatusServiceUnavailable)
	file := jobEvent(t, events.TypeStepRun, "exec", scriptRun("echo long step done"))
	if err := exec.RunJob(context.Background(), jobOptions(t, file, broker.srv.URL)); err != nil {
		t.Fatal(err)
	}
	got := broker.events(events.TypeStepResult)
	if len(got) != 1 {
		t.Fatalf("%d results, want 1 (attempts %d)", len(got), broker.attempts.Load())
	}
	if broker.attempts.Load() < 4 {
		t.Errorf("%d sends, want the 3 refused and the 4th", broker.attempts.Load())
	}
	var res events.StepResult
	if err := got[0].DataAs(&res); err != nil {
		t.Fatal(err)
	}
	if out := result(t, res); strings.TrimSpace(out) != "long step done" {
		t.Errorf("result %q", out)
	}
	if got[0].ID() != "uid-1/main/0" || events.Extension(got[0], events.ExtStepToken) != "tok-1" {
		t.Errorf("result %s token %q", got[0].ID(), events.Extension(got[0], events.ExtStepToken))
	}
}

// A failing step is a result, not a runner error: the Job succeeds and the
// controller learns the step failed.
func TestRunJobReportsAFailedStep(t *testing.T) {
	broker := newReceiver(t, 0, 0)
	file := jobEvent(t, events.TypeStepRun, "exec", scriptRun("echo nope >&2; exit 3"))
	if err := exec.RunJob(context.Background(), jobOptions(t, file, broker.srv.URL)); err != nil {
		t.Fatal(err)
	}
	got := broker.events(events.TypeStepResult)
	if len(got) != 1 {
		t.Fatalf("%d results", len(got))
	}
	var res events.StepResult
	if err := got[0].DataAs(&res); err != nil {
		t.Fatal(err)
	}
	if res.Phase != v1alpha1.NodeFailed || res.Outputs == nil || res.Outputs.ExitCode == nil || *res.Outputs.ExitCode != 3 {
		t.Errorf("phase %s outputs %+v", res.Phase, res.Outputs)
	}
}

// A permanent refusal (400) ends the retries at once, with the broker's
// answer in the error; a broker that never answers well is given up after
// SendFor.
func TestRunJobGivesUp(t *testing.T) {
	broker := newReceiver(t, 1000, http.StatusBadRequest)
	file := jobEvent(t, events.TypeStepRun, "exec", scriptRun("true"))
	err := exec.RunJob(context.Background(), jobOptions(t, file, broker.srv.URL))
	var se *sdk.SendError
	if !errors.As(err, &se) || se.Code != http.StatusBadRequest || broker.attempts.Load() != 1 {
		t.Errorf("err %v after %d sends, want the 400 after one", err, broker.attempts.Load())
	}

	broker = newReceiver(t, 1000, http.StatusServiceUnavailable)
	opts := jobOptions(t, file, broker.srv.URL)
	opts.SendFor = time.Second
	start := time.Now()
	err = exec.RunJob(context.Background(), opts)
	if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "gave up after 1s") {
		t.Errorf("err %v", err)
	}
	if took := time.Since(start); took > 5*time.Second || broker.attempts.Load() < 2 {
		t.Errorf("gave up after %s and %d sends", took, broker.attempts.Load())
	}
}

// Attack: a Job runs an exec step.run and nothing else. Another type, a
// step.run of another function, a file that is not a CloudEvent, one
// above MaxJobEventBytes, or no broker to report to: nothing runs (the
// script would create a file) and nothing is sent.
func TestRunJobRefusesWhatIsNotItsStep(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	src := "touch " + marker
	big := scriptRun(src)
	big.Template.Script.Source += " # " + strings.Repeat("x", exec.MaxJobEventBytes)
	garbage := filepath.Join(t.TempDir(), "event")
	if err := os.WriteFile(garbage, []byte(`{"specversion": "1.0", "type": `), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file, sink, want string
	}{
		{"a workflow.submit", jobEvent(t, events.TypeWorkflowSubmit, "exec", scriptRun(src)), "", "not a step.run"},
		{"a step.cancel", jobEvent(t, events.TypeStepCancel, "exec", scriptRun(src)), "", "not a step.run"},
		{"another function's step", jobEvent(t, events.TypeStepRun, "http", scriptRun(src)), "", "not a step.run"},
		{"not a CloudEvent", garbage, "", "not a CloudEvent"},
		{"too large", jobEvent(t, events.TypeStepRun, "exec", big), "", "larger than 1048576 bytes"},
		{"no file", filepath.Join(t.TempDir(), "missing"), "", "no such file"},
		{"no broker", jobEvent(t, events.TypeStepRun, "exec", scriptRun(src)), "none", "no broker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			broker := newReceiver(t, 0, 0)
			sink := broker.srv.URL
			if tc.sink == "none" {
				t.Setenv("K_SINK", "")
				sink = ""
			}
			err := exec.RunJob(context.Background(), jobOptions(t, tc.file, sink))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("the step ran")
			}
			if n := broker.attempts.Load(); n != 0 {
				t.Errorf("%d events sent", n)
			}
		})
	}
}

// The largest event a JobSink can pass (MaxJobEventBytes) runs.
func TestRunJobTakesAnEventAtTheLimit(t *testing.T) {
	broker := newReceiver(t, 0, 0)
	run := scriptRun("echo at the limit #")
	file := jobEvent(t, events.TypeStepRun, "exec", run)
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	// Pad the script's comment until the file is exactly the limit.
	run.Template.Script.Source += strings.Repeat("x", exec.MaxJobEventBytes-int(info.Size()))
	file = jobEvent(t, events.TypeStepRun, "exec", run)
	if info, err := os.Stat(file); err != nil || info.Size() != exec.MaxJobEventBytes {
		t.Fatalf("event file of %d bytes, want %d (%v)", info.Size(), exec.MaxJobEventBytes, err)
	}
	if err := exec.RunJob(context.Background(), jobOptions(t, file, broker.srv.URL)); err != nil {
		t.Fatal(err)
	}
	if got := broker.events(events.TypeStepResult); len(got) != 1 {
		t.Fatalf("%d results", len(got))
	}
}
