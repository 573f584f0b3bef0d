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
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

// StepInput is what a workflow step receives: the step.run event's data.
type StepInput struct {
	events.StepRun
	params map[string]string
	// art reads and writes artifacts; nil is WithArtifacts(nil).
	art *stepArtifacts
}

// NewStepInput is the input a step.run gives its step.
func NewStepInput(run events.StepRun) StepInput {
	return StepInput{StepRun: run, params: run.Parameters()}
}

// Param returns an input parameter's value ("" when there is none).
func (in StepInput) Param(name string) string { return in.params[name] }

// Params returns every input parameter.
func (in StepInput) Params() map[string]string { return in.params }

// Artifact returns the artifact-store key of an input artifact (its
// location; the content is OpenArtifact's or StageArtifact's).
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
	// Secrets resolves the credentials of s3 artifact locations; default
	// secrets.Local{} (the environment).
	Secrets secrets.Resolver
	// ArtifactLimits bound each artifact; zero fields are the defaults.
	ArtifactLimits ArtifactLimits
	// Offload is the threshold above which output values are stored by
	// reference, and the largest value loaded back; default
	// OffloadLimitsFromEnv.
	Offload *OffloadLimits
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
	if o.Secrets == nil {
		o.Secrets = secrets.Local{}
	}
	o.ArtifactLimits = o.ArtifactLimits.withDefaults()
	if o.Offload == nil {
		limits, err := OffloadLimitsFromEnv()
		if err != nil {
			slog.Warn("offload limits: using the defaults", "error", err)
		}
		o.Offload = &limits
	}
	// One client for every step's http artifacts, so that connections are
	// reused.
	client := newHTTPClient(o.ArtifactLimits.HTTPTimeout)
	x := newExecutions()
	return HandlerFunc(func(ctx context.Context, e event.Event) (*event.Event, error) {
		switch e.Type() {
		case events.TypeStepRun:
		case events.TypeStepCancel:
			return nil, x.handleCancel(ctx, e)
		default:
			return nil, Status(http.StatusBadRequest, fmt.Errorf("a step function takes %s and %s events, not %s", events.TypeStepRun, events.TypeStepCancel, e.Type()))
		}
		var run events.StepRun
		if err := e.DataAs(&run); err != nil {
			return nil, Status(http.StatusBadRequest, fmt.Errorf("step.run %s: undecodable data: %w", e.ID(), err))
		}
		rt := runtimeFrom(ctx)
		ex, started := x.startOrJoin(ctx, e, func(ectx context.Context, ex *execution) (*event.Event, error) {
			return o.runAttempt(ectx, fn, e, run, rt, ex, client)
		})
		if !started {
			rt.logger.InfoContext(ctx, "step.run delivered again: waiting for the copy that runs", "id", e.ID())
		}
		lostAfter := time.Duration(run.LostAfterSeconds) * time.Second
		// A cancelled attempt has no reply (nil, nil): nobody needs its
		// result any more.
		return ex.wait(ctx, func(r *event.Event) { sendResult(context.WithoutCancel(ctx), rt.sender, r, lostAfter) })
	})
}

// handleCancel stops the attempt a step.cancel names. The answer is 200
// whatever it finds: an attempt that ended or never ran here has nothing
// to stop, and a redelivery would find the same.
func (x *executions) handleCancel(ctx context.Context, e event.Event) error {
	var c events.StepCancel
	if err := e.DataAs(&c); err != nil || c.RunID == "" {
		return Status(http.StatusBadRequest, fmt.Errorf("step.cancel %s: data must be {runID, runner, reason}: %v", e.ID(), err))
	}
	what := x.cancelRun(c, events.Extension(e, events.ExtStepToken))
	Logger(ctx).InfoContext(ctx, "step.cancel", "run", c.RunID, "runner", c.Runner, "reason", c.Reason, "outcome", what)
	return nil
}

// runAttempt runs one attempt of a step.run and returns its step.result
// (nil when the attempt was cancelled: its result no longer matters).
func (o StepOptions) runAttempt(ctx context.Context, fn StepFunc, e event.Event, run events.StepRun, rt *runtime, ex *execution, client *http.Client) (*event.Event, error) {
	capture := newLogCapture(o.LogTailLines)
	ctx = withRuntime(ctx, &runtime{sender: rt.sender, path: rt.path, capture: capture, logger: capture.logger(rt.logger.With("workflow", run.Workflow, "node", run.NodeID, "attempt", run.Attempt))})
	if run.Deadline != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, *run.Deadline)
		defer cancel()
	}
	result := events.StepResult{StartedAt: time.Now().UTC()}
	hctx, stopHeartbeats := context.WithCancel(ctx)
	go heartbeats(hctx, rt.sender, e, ex, time.Duration(run.HeartbeatSeconds)*time.Second, time.Duration(run.LostAfterSeconds)*time.Second, result.StartedAt)
	defer stopHeartbeats()
	art, err := o.stepArtifacts(ctx, run, client)
	if err == nil {
		err = resolveValues(ctx, &run, art.store, o.Offload.MaxValue)
	}
	var out StepOutput
	if err != nil {
		// The step never saw its inputs: a fault of the platform or
		// of what was passed, not of the work.
		err = Errored(err)
	} else {
		in := NewStepInput(run)
		in.art = art
		out, err = callStep(ctx, fn, in)
	}
	if cause := context.Cause(ctx); errors.Is(cause, errCancelled) {
		Logger(ctx).Info("step stopped", "reason", cause)
		return nil, nil
	}
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
	if oerr := offloadOutputs(ctx, result.Outputs, art.storeOrNil(), run.Namespace, o.Offload.Threshold); oerr != nil {
		// Too large to carry and nowhere to put it: the outputs go,
		// so that the result stays bounded, and the step says why.
		result.Outputs = nil
		result.Phase = v1alpha1.NodeError
		result.Message = errors.Join(err, oerr).Error()
	}
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
}

// stepArtifacts is the store of one step.run: the workflow's repository
// when the controller resolved one, else the function's own store.
func (o StepOptions) stepArtifacts(ctx context.Context, run events.StepRun, client *http.Client) (*stepArtifacts, error) {
	art := &stepArtifacts{guarded: true, secrets: o.Secrets, limits: o.ArtifactLimits, client: client}
	if own, ok := o.Artifacts.(Artifacts); ok {
		art.store = own
	}
	if run.ArtifactRepository == nil || run.ArtifactRepository.S3 == nil {
		return art, nil
	}
	repo := run.ArtifactRepository.S3.S3Artifact
	store, guarded, err := art.s3(ctx, run.Namespace, repo)
	if err != nil {
		return art, fmt.Errorf("the workflow's artifact repository s3://%s: %w", repo.Bucket, err)
	}
	art.store, art.guarded, art.repo = store, guarded, &repo
	return art, nil
}

// storeOrNil is the step's store as an ArtifactStore, nil when there is
// none (a typed nil would pass PutValue's check).
func (s *stepArtifacts) storeOrNil() ArtifactStore {
	if s == nil || s.store == nil {
		return nil
	}
	return s.store
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
	// Copied, so that moving a large value to ParameterRefs does not
	// change the map the step returned.
	params := make(map[string]string, len(o.Parameters))
	for k, v := range o.Parameters {
		params[k] = v
	}
	if len(params) == 0 {
		params = nil
	}
	return &v1alpha1.NodeOutputs{Parameters: params, Result: o.Result, Artifacts: o.Artifacts, ExitCode: o.ExitCode}
}

// StepResultEvent is the reply to a step.run: same id (so that duplicates
// are recognised), routing extensions and step token (the controller
// accepts a result only with the token of the dispatch it answers), type
// step.result.
func StepResultEvent(run event.Event, result events.StepResult) (*event.Event, error) {
	reply := event.New()
	reply.SetID(run.ID())
	reply.SetType(events.TypeStepResult)
	reply.SetSource(stepSource(run))
	copyStepExtensions(run, &reply)
	if err := reply.SetData(event.ApplicationJSON, result); err != nil {
		return nil, fmt.Errorf("encode step.result: %w", err)
	}
	return &reply, nil
}

// stepSource is the source of what a step function sends about run.
func stepSource(run event.Event) string {
	return "/zeroflow/step/" + fmt.Sprint(run.Extensions()[events.ExtFunction])
}

// copyStepExtensions gives ev the routing extensions and the step token of
// the step.run it is about.
func copyStepExtensions(run event.Event, ev *event.Event) {
	for _, ext := range []string{events.ExtWorkflow, events.ExtNode, events.ExtAttempt, events.ExtFunction, events.ExtNamespace, events.ExtStepToken} {
		if v, ok := run.Extensions()[ext]; ok {
			ev.SetExtension(ext, v)
		}
	}
}
