package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// StepInput is what a workflow step receives: the step.run event's data.
type StepInput struct {
	events.StepRun
	params map[string]string
}

// NewStepInput is the input a step.run gives its step.
func NewStepInput(run events.StepRun) StepInput {
	return StepInput{StepRun: run, params: run.Parameters()}
}

// Param returns an input parameter's value ("" when there is none).
func (in StepInput) Param(name string) string { return in.params[name] }

// Params returns every input parameter.
func (in StepInput) Params() map[string]string { return in.params }

// Artifact returns the artifact-store key of an input artifact.
func (in StepInput) Artifact(name string) string {
	for _, a := range in.Template.Inputs.Artifacts {
		if a.Name == name {
			return a.Key
		}
	}
	return ""
}

// Payload is the template's function.payload, resolved.
func (in StepInput) Payload() string {
	if in.Template.Function == nil {
		return ""
	}
	return in.Template.Function.Payload
}

// StepOutput is what a step produced.
type StepOutput struct {
	// Parameters are the output parameters by name.
	Parameters map[string]string
	// Result, when not nil, is outputs.result.
	Result *string
	// Artifacts maps an output artifact name to its artifact-store key.
	Artifacts map[string]string
	// Message is recorded on the node.
	Message string
	// ExitCode, when not nil, is reported as outputs.exitCode.
	ExitCode *int32
}

// StepFunc is a workflow step written as a function. Returning an error
// fails the step (phase Failed, which the retry policy OnFailure retries);
// an error wrapped with StepError can choose Error instead.
type StepFunc func(ctx context.Context, in StepInput) (StepOutput, error)

// StepError makes a step end in a phase other than Failed.
type StepError struct {
	Phase v1alpha1.NodePhase
	Err   error
}

func (e *StepError) Error() string { return e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// Errored ends a step in phase Error (a fault of the platform or the
// input, not of the work), which the retry policy OnError retries.
func Errored(err error) error { return &StepError{Phase: v1alpha1.NodeError, Err: err} }

// StepOptions configure Step.
type StepOptions struct {
	// Artifacts, when set, receives each step's full log; default the
	// store $ZEROFLOW_ARTIFACTS names.
	Artifacts ArtifactStore
	// LogTailLines bounds the log lines sent back in the result; default 20.
	LogTailLines int
}

// Step turns fn into a Handler for dev.zeroflow.step.run events: it gives fn
// the resolved inputs, captures what fn logs through Logger(ctx), and
// replies with dev.zeroflow.step.result. A panic in fn ends the step in
// phase Error instead of crashing the function.
func Step(fn StepFunc, opts ...StepOptions) Handler {
	var o StepOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.LogTailLines <= 0 {
		o.LogTailLines = 20
	}
	if o.Artifacts == nil {
		store, err := ArtifactsFromEnv()
		if err != nil {
			slog.Warn("step logs will not be stored", "error", err)
		}
		o.Artifacts = store
	}
	return HandlerFunc(func(ctx context.Context, e event.Event) (*event.Event, error) {
		if e.Type() != events.TypeStepRun {
			return nil, Status(http.StatusBadRequest, fmt.Errorf("a step function takes %s events, not %s", events.TypeStepRun, e.Type()))
		}
		var run events.StepRun
		if err := e.DataAs(&run); err != nil {
			return nil, Status(http.StatusBadRequest, fmt.Errorf("step.run %s: undecodable data: %w", e.ID(), err))
		}
		in := NewStepInput(run)
		capture := newLogCapture(o.LogTailLines)
		rt := runtimeFrom(ctx)
		ctx = withRuntime(ctx, &runtime{sender: rt.sender, path: rt.path, capture: capture, logger: capture.logger(rt.logger.With("workflow", run.Workflow, "node", run.NodeID, "attempt", run.Attempt))})
		if run.Deadline != nil {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, *run.Deadline)
			defer cancel()
		}
		result := events.StepResult{StartedAt: time.Now().UTC()}
		out, err := callStep(ctx, fn, in)
		result.FinishedAt = time.Now().UTC()
		if err == nil && run.Deadline != nil && !result.FinishedAt.Before(*run.Deadline) {
			// Too late: the controller has given up on this attempt.
			err = fmt.Errorf("step did not finish by its deadline %s", run.Deadline.Format(time.RFC3339Nano))
		}
		switch {
		case err == nil:
			result.Phase = v1alpha1.NodeSucceeded
		default:
			result.Phase = v1alpha1.NodeFailed
			var se *StepError
			if errors.As(err, &se) {
				result.Phase = se.Phase
			}
			result.Message = err.Error()
		}
		if out.Message != "" && result.Message == "" {
			result.Message = out.Message
		}
		result.Outputs = out.nodeOutputs()
		result.LogTail = capture.tail()
		if o.Artifacts != nil && capture.size() > 0 {
			key := events.StepLogKey(run.Namespace, run.Workflow, run.NodeID, run.Attempt)
			if perr := o.Artifacts.Put(ctx, key, capture.full()); perr != nil {
				Logger(ctx).Warn("store the step log", "key", key, "error", perr)
			} else {
				result.LogKey = key
			}
		}
		return StepResultEvent(e, result)
	})
}

// callStep runs fn, turning a panic into an error of phase Error.
func callStep(ctx context.Context, fn StepFunc, in StepInput) (out StepOutput, err error) {
	defer func() {
		if r := recover(); r != nil {
			Logger(ctx).Error("step panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = Errored(fmt.Errorf("panic: %v", r))
		}
	}()
	return fn(ctx, in)
}

func (o StepOutput) nodeOutputs() *v1alpha1.NodeOutputs {
	if len(o.Parameters) == 0 && o.Result == nil && len(o.Artifacts) == 0 && o.ExitCode == nil {
		return nil
	}
	return &v1alpha1.NodeOutputs{Parameters: o.Parameters, Result: o.Result, Artifacts: o.Artifacts, ExitCode: o.ExitCode}
}

// StepResultEvent is the reply to a step.run: same id (so that duplicates
// are recognised), routing extensions and step token (the controller
// accepts a result only with the token of the dispatch it answers), type
// step.result.
func StepResultEvent(run event.Event, result events.StepResult) (*event.Event, error) {
	reply := event.New()
	reply.SetID(run.ID())
	reply.SetType(events.TypeStepResult)
	reply.SetSource("/zeroflow/step/" + fmt.Sprint(run.Extensions()[events.ExtFunction]))
	for _, ext := range []string{events.ExtWorkflow, events.ExtNode, events.ExtAttempt, events.ExtFunction, events.ExtNamespace, events.ExtStepToken} {
		if v, ok := run.Extensions()[ext]; ok {
			reply.SetExtension(ext, v)
		}
	}
	if err := reply.SetData(event.ApplicationJSON, result); err != nil {
		return nil, fmt.Errorf("encode step.result: %w", err)
	}
	return &reply, nil
}
