package sdk

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/zeroflow-dev/zeroflow/api/events"
)

// Limits of the executions one step function keeps.
const (
	// DefaultKeepFinished is how long a finished attempt's result is kept,
	// so that a step.run delivered again (the broker lost the reply)
	// gets it instead of running the attempt a second time.
	DefaultKeepFinished = 10 * time.Minute
	// DefaultMaxFinished bounds the results kept.
	DefaultMaxFinished = 1000
	// firstHeartbeat is when a running step sends its first heartbeat
	// (or at its interval, when that is shorter).
	firstHeartbeat = time.Second
	// resultSendTimeout bounds the sending of a result by event (when no
	// request waits for it) when the step.run sets no lost-after time.
	resultSendTimeout = 5 * time.Minute
)

// errCancelled is the cause of an attempt stopped by a step.cancel.
var errCancelled = errors.New("cancelled")

// execution is one running (or recently finished) copy of an attempt.
type execution struct {
	id     string
	token  string
	runner string
	cancel context.CancelCauseFunc
	done   chan struct{}

	// mu guards the fields below.
	mu       sync.Mutex
	waiters  int
	sending  bool // a goroutine will send the result by event
	finished bool
	at       time.Time
	reply    *event.Event
	err      error
}

// executions are the attempts one step function runs, by step.run id, so
// that a step.run delivered twice runs once and a step.cancel finds what it
// stops. One Step handler, shared by every instance of an in-process
// function, holds one.
type executions struct {
	mu      sync.Mutex
	byID    map[string]*execution
	keep    time.Duration
	maxKept int
}

func newExecutions() *executions {
	return &executions{byID: map[string]*execution{}, keep: DefaultKeepFinished, maxKept: DefaultMaxFinished}
}

// startOrJoin returns the execution of the step.run e, starting it with
// run when there is none. started is false for a duplicate.
func (x *executions) startOrJoin(ctx context.Context, e event.Event, run func(context.Context, *execution) (*event.Event, error)) (ex *execution, started bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.pruneLocked(time.Now())
	if ex, ok := x.byID[e.ID()]; ok {
		return ex, false
	}
	// The work outlives the request that started it: a broker that gave
	// up on the request (its timeout, a restart) delivers it again and
	// joins this execution instead of starting a second copy.
	ectx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	ex = &execution{id: e.ID(), token: events.Extension(e, events.ExtStepToken), runner: newRunnerID(), cancel: cancel, done: make(chan struct{})}
	x.byID[e.ID()] = ex
	go func() {
		reply, err := run(ectx, ex)
		cancel(nil)
		ex.finish(reply, err)
	}()
	return ex, true
}

// pruneLocked drops finished executions past their keep time, and the
// oldest finished ones above the bound.
func (x *executions) pruneLocked(now time.Time) {
	var finished int
	var oldest *execution
	for id, ex := range x.byID {
		ex.mu.Lock()
		fin, at := ex.finished, ex.at
		ex.mu.Unlock()
		if !fin {
			continue
		}
		if now.Sub(at) > x.keep {
			delete(x.byID, id)
			continue
		}
		finished++
		if oldest == nil || at.Before(oldest.at) {
			oldest = ex
		}
	}
	if finished > x.maxKept && oldest != nil {
		delete(x.byID, oldest.id)
	}
}

// cancelRun stops the execution a step.cancel names, when its token is the
// one the execution's step.run carried. It says what it did, for the log.
func (x *executions) cancelRun(c events.StepCancel, token string) string {
	x.mu.Lock()
	ex, ok := x.byID[c.RunID]
	x.mu.Unlock()
	switch {
	case !ok:
		return "no such attempt runs here"
	case token == "" || !hmac.Equal([]byte(token), []byte(ex.token)):
		return "refused: the step token is not the attempt's"
	case c.Runner != "" && c.Runner != ex.runner:
		return "another copy (" + c.Runner + ") is meant"
	}
	ex.cancel(fmt.Errorf("%w: %s", errCancelled, c.Reason))
	return "cancelled"
}

// finish records the outcome. When no request waits for it any more, the
// result goes to the broker as an event (see wait).
func (ex *execution) finish(reply *event.Event, err error) {
	ex.mu.Lock()
	ex.finished, ex.at, ex.reply, ex.err = true, time.Now(), reply, err
	ex.mu.Unlock()
	close(ex.done)
}

// wait waits for the execution on behalf of one request. It returns the
// reply for that request, or, when the request ends first, nil: then the
// result is sent by event once the attempt ends (send), unless another
// request still waits for it.
func (ex *execution) wait(ctx context.Context, send func(*event.Event)) (*event.Event, error) {
	ex.mu.Lock()
	ex.waiters++
	ex.mu.Unlock()
	select {
	case <-ex.done:
		ex.mu.Lock()
		ex.waiters--
		ex.mu.Unlock()
		return ex.reply, ex.err
	case <-ctx.Done():
	}
	ex.mu.Lock()
	ex.waiters--
	// One sender per execution, however many requests gave up.
	last := ex.waiters == 0 && !ex.sending
	if last {
		ex.sending = true
	}
	ex.mu.Unlock()
	if last {
		go func() {
			<-ex.done
			ex.mu.Lock()
			waiting := ex.waiters > 0
			ex.sending = false
			ex.mu.Unlock()
			if !waiting && ex.reply != nil {
				send(ex.reply)
			}
		}()
	}
	return nil, ctx.Err()
}

// newRunnerID names one copy of an attempt.
func newRunnerID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// heartbeats sends a heartbeat for ex every interval until ctx ends. When
// none has reached the broker for lostAfter, the controller has given the
// attempt up (and may be running a new one), so the attempt is stopped.
func heartbeats(ctx context.Context, sender *Sender, run event.Event, ex *execution, interval, lostAfter time.Duration, started time.Time) {
	if interval <= 0 || sender == nil {
		return
	}
	// The first one comes soon: a second copy of the attempt (a
	// redelivery to another instance) learns from the controller's answer
	// that it is one, and stops. A step shorter than that sends none.
	wait := min(interval, firstHeartbeat)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	lastOK := time.Now()
	for seq := 1; ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		timer.Reset(interval)
		hb, err := heartbeatEvent(run, ex.runner, seq, started)
		if err == nil {
			sctx, cancel := context.WithTimeout(ctx, interval)
			err = sender.Send(sctx, hb)
			cancel()
		}
		if err == nil {
			lastOK = time.Now()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		Logger(ctx).Warn("step heartbeat not sent", "id", run.ID(), "error", err)
		if lostAfter > 0 && time.Since(lastOK) >= lostAfter {
			ex.cancel(fmt.Errorf("%w: no heartbeat reached the broker for %s, so the controller has given this attempt up", errCancelled, lostAfter))
			return
		}
	}
}

// heartbeatEvent is the seq-th heartbeat of the copy runner of run.
func heartbeatEvent(run event.Event, runner string, seq int, started time.Time) (event.Event, error) {
	hb := event.New()
	hb.SetID(run.ID() + "/" + strconv.Itoa(seq))
	hb.SetType(events.TypeStepHeartbeat)
	hb.SetSource(stepSource(run))
	copyStepExtensions(run, &hb)
	if err := hb.SetData(event.ApplicationJSON, events.StepHeartbeat{Runner: runner, StartedAt: started.UTC()}); err != nil {
		return hb, fmt.Errorf("encode step.heartbeat: %w", err)
	}
	return hb, nil
}

// sendResult sends a result that no request is left to carry back, retrying
// a refusal until within (the controller's lost-after time: later, it has
// given the attempt up).
func sendResult(ctx context.Context, sender *Sender, reply *event.Event, within time.Duration) {
	if sender == nil {
		Logger(ctx).Error("step result lost: no broker to send it to", "id", reply.ID())
		return
	}
	if within <= 0 {
		within = resultSendTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: 1 << 20, Cap: 10 * time.Second}, func(ctx context.Context) (bool, error) {
		last = sender.Send(ctx, *reply)
		var se *SendError
		if errors.As(last, &se) && se.Code >= 400 && se.Code < 500 && se.Code != http.StatusRequestTimeout && se.Code != http.StatusTooManyRequests {
			// Refused for good: sending it again cannot help.
			return false, last
		}
		return last == nil, nil
	})
	if err != nil {
		Logger(ctx).Error("step result not sent", "id", reply.ID(), "error", errors.Join(err, last))
	}
}
