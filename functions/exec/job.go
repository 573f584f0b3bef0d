package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// Limits of a step run as a Job (RunJob).
const (
	// MaxJobEventBytes bounds the event file: Knative's JobSink passes the
	// event in a Secret, which Kubernetes bounds at 1 MiB, so a larger
	// file is not a JobSink's.
	MaxJobEventBytes = 1 << 20
	// DefaultJobSendFor is how long RunJob keeps trying to send the
	// result: the Job's pod may start, or finish, while the broker is
	// unreachable (a rollout, a network policy still being applied).
	DefaultJobSendFor = 10 * time.Minute
)

// JobOptions configure RunJob.
type JobOptions struct {
	// Exec configures the exec function that runs the step.
	Exec Options
	// EventFile holds the step.run, as JSON (a JobSink mounts it at
	// /etc/jobsink-event/event).
	EventFile string
	// Sender posts the heartbeats and the result to the broker.
	Sender *sdk.Sender
	// Logger logs the runner's own lines; default slog.Default().
	Logger *slog.Logger
	// SendFor bounds the retries of the result's send; default
	// DefaultJobSendFor.
	SendFor time.Duration
}

// ErrNotAStepRun is a job event that is not a container or script
// step.run: a Job runs exactly one step, and nothing else.
var ErrNotAStepRun = errors.New("not a step.run of the exec function")

// RunJob runs the one step of a Job's pod: it reads the step.run from
// EventFile, runs it with the exec function (which sends heartbeats through
// Sender while it runs), and sends the step.result to the broker, retrying
// until SendFor. A step that fails is a result, not an error: RunJob
// returns an error only when there is no step to run or its result could
// not be sent, so that the Job (and kubectl) shows that the step was lost.
func RunJob(ctx context.Context, opts JobOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if opts.Sender == nil || opts.Sender.Sink() == "" {
		// Running a step of hours whose result cannot be sent would only
		// waste them.
		return fmt.Errorf("exec job: no broker to send the result to: set $K_SINK (the SinkBinding of the JobSink's Jobs) or --sink")
	}
	run, err := readJobEvent(opts.EventFile)
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "exec job: running step", "id", run.ID(), "workflow", events.Extension(run, events.ExtWorkflow), "node", events.Extension(run, events.ExtNode), "attempt", events.Extension(run, events.ExtAttempt))
	reply, err := sdk.Invoke(ctx, New(opts.Exec), run, opts.Sender, log)
	if err != nil {
		return fmt.Errorf("exec job: step.run %s: %w", run.ID(), err)
	}
	if reply == nil {
		// Cancelled: the controller no longer waits for this attempt.
		log.InfoContext(ctx, "exec job: step cancelled; no result to send", "id", run.ID())
		return nil
	}
	sendFor := opts.SendFor
	if sendFor <= 0 {
		sendFor = DefaultJobSendFor
	}
	if err := sendJobResult(context.WithoutCancel(ctx), log, opts.Sender, *reply, sendFor); err != nil {
		return fmt.Errorf("exec job: step.result %s: %w", reply.ID(), err)
	}
	log.InfoContext(ctx, "exec job: result sent", "id", reply.ID())
	return nil
}

// readJobEvent reads and checks the step.run of a Job.
func readJobEvent(path string) (event.Event, error) {
	var ev event.Event
	if path == "" {
		return ev, fmt.Errorf("exec job: no event file: set --event or $K_EVENT_PATH")
	}
	f, err := os.Open(path)
	if err != nil {
		return ev, fmt.Errorf("exec job: event file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxJobEventBytes+1))
	if err != nil {
		return ev, fmt.Errorf("exec job: event file %s: %w", path, err)
	}
	if len(b) > MaxJobEventBytes {
		return ev, fmt.Errorf("exec job: event file %s is larger than %d bytes (a JobSink's event fits in a Secret)", path, MaxJobEventBytes)
	}
	if err := ev.UnmarshalJSON(b); err != nil {
		return ev, fmt.Errorf("exec job: event file %s is not a CloudEvent in JSON: %w", path, err)
	}
	if err := ev.Validate(); err != nil {
		return ev, fmt.Errorf("exec job: event file %s: %w", path, err)
	}
	if ev.Type() != events.TypeStepRun || events.Extension(ev, events.ExtFunction) != FunctionName {
		return ev, fmt.Errorf("exec job: event %s in %s has type %q and %s %q: %w", ev.ID(), path, ev.Type(), events.ExtFunction, events.Extension(ev, events.ExtFunction), ErrNotAStepRun)
	}
	return ev, nil
}

// FunctionName is the function (zffunction) whose step.run events the exec
// function runs.
const FunctionName = "exec"

// sendJobResult sends the result until the broker takes it or sendFor
// passes. A refusal that sending again cannot change (a 4xx other than 408
// and 429) ends the retries at once.
func sendJobResult(ctx context.Context, log *slog.Logger, sender *sdk.Sender, reply event.Event, sendFor time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, sendFor)
	defer cancel()
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 1 << 20, Cap: 10 * time.Second}, func(ctx context.Context) (bool, error) {
		last = sender.Send(ctx, reply)
		var se *sdk.SendError
		if errors.As(last, &se) && se.Code >= 400 && se.Code < 500 && se.Code != http.StatusRequestTimeout && se.Code != http.StatusTooManyRequests {
			return false, last
		}
		if last != nil {
			log.WarnContext(ctx, "exec job: result not sent yet; retrying", "id", reply.ID(), "error", last)
		}
		return last == nil, nil
	})
	if err != nil && last != nil && !errors.Is(err, last) {
		return fmt.Errorf("gave up after %s: %w", sendFor, last)
	}
	return err
}
