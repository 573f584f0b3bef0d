package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

// Annotations the controller reads and writes.
const (
	// AnnotationSubmitID is the id of the workflow.submit event that
	// created a workflow.
	AnnotationSubmitID = "zeroflow.dev/submit-id"
)

// conflictBackoff spaces the replays of an input that lost a write race
// to another instance.
var conflictBackoff = wait.Backoff{Steps: 20, Duration: 2 * time.Millisecond, Factor: 1.5, Jitter: 0.5, Cap: 500 * time.Millisecond}

// advance applies one input to a workflow: read (from the cache of this
// instance's own writes when it has the workflow, which only a write
// confirms: an input that changes nothing there is replayed on a read),
// advance with the engine,
// write the status (re-reading and replaying on a conflict), then send the
// dispatches, arm the wake-up and announce the end. accept, when set, can
// turn the input away once the workflow is read.
func (c *Controller) advance(ctx context.Context, k key, in engine.Input, accept func(*v1alpha1.Workflow) bool) error {
	start := time.Now()
	defer func() { c.metrics.advanceSeconds.WithLabelValues(string(in.Kind)).Observe(since(start)) }()
	unlock := c.lock(k)
	defer unlock()
	var (
		out               engine.Outcome
		wf                *v1alpha1.Workflow
		written           bool
		removeAnnotations []string
		// last is the workflow as last written when a write of its
		// next status was refused for good.
		last *v1alpha1.Workflow
	)
	err := retry.OnError(conflictBackoff, replayable, func() error {
		cur, cached, err := c.load(ctx, k)
		if err != nil {
			return err
		}
		if accept != nil && !accept(cur) {
			if cached {
				c.cache.drop(k)
				return errStaleCopy
			}
			wf = nil
			return nil
		}
		next := *cur
		input := in
		if input.Kind == engine.Tick && cur.Status.Phase == v1alpha1.WorkflowUnknown {
			// A workflow created through the API, not by a submit event.
			input.Kind = engine.Submit
		}
		removeAnnotations = nil
		if input.Kind == engine.Tick {
			req, retryReq, remove, err := controlRequest(cur)
			removeAnnotations = remove
			switch {
			case err != nil:
				c.cfg.Logger.WarnContext(ctx, "request ignored", "workflow", k.String(), "error", err)
			case retryReq != nil:
				next.Status = *cur.Status.DeepCopy()
				if err := resetForRetry(&next.Status, retryReq.Node); err != nil {
					c.cfg.Logger.WarnContext(ctx, "retry ignored", "workflow", k.String(), "error", err)
				} else {
					c.cfg.Logger.InfoContext(ctx, "workflow retried", "workflow", k.String(), "node", retryReq.Node)
				}
			case req != nil:
				input = *req
			}
		}
		if input.Kind == engine.Submit && cur.Status.Phase == v1alpha1.WorkflowUnknown {
			next.Status = *cur.Status.DeepCopy()
			if reason, err := c.prepare(ctx, &next); err != nil {
				return err
			} else if reason != "" {
				input.Invalid = reason
			}
		}
		input.Liveness = c.liveness()
		now := c.cfg.Now()
		out, err = c.engine.Advance(engine.RunOf(&next), input, now)
		if err != nil {
			return fmt.Errorf("advance workflow %s: %w", k, err)
		}
		if !cached && redelivered(input, cur, out) {
			// The advance that took this input first may have written
			// the status and died (a killed controller) before sending
			// its step.runs: nothing else would send them before the
			// start timeout. Send again those not heard from.
			input.Redispatch = true
			if out, err = c.engine.Advance(engine.RunOf(&next), input, now); err != nil {
				return fmt.Errorf("advance workflow %s: %w", k, err)
			}
		}
		c.bindDispatches(&next, &out.Status, out.Dispatch, settledNodes(in, out))
		if out.SpecPatch != nil {
			patched := next
			patched.Spec = *next.Spec.DeepCopy()
			if out.SpecPatch.Shutdown != "" {
				patched.Spec.Shutdown = out.SpecPatch.Shutdown
			}
			if out.SpecPatch.Suspend != nil {
				if *out.SpecPatch.Suspend {
					patched.Spec.Suspend = out.SpecPatch.Suspend
				} else {
					patched.Spec.Suspend = nil
				}
			}
			updated, err := c.cfg.Client.UpdateWorkflow(ctx, &patched)
			if err != nil {
				c.cache.drop(k)
				if why := permanentAPIError(err); why != "" {
					return &errPermanent{reason: "the workflow's spec could not be written (" + why + ")", err: err}
				}
				return fmt.Errorf("write workflow %s spec: %w", k, err)
			}
			next.ObjectMeta = updated.ObjectMeta
			next.Spec = updated.Spec
		}
		if apiequality.Semantic.DeepEqual(cur.Status, out.Status) && out.SpecPatch == nil && len(removeAnnotations) == 0 {
			if cached {
				c.cache.drop(k)
				return errStaleCopy
			}
			wf, written = &next, false
			return nil
		}
		next.Status = out.Status
		// A status above the bound is one etcd would refuse (or nearly):
		// end the run now, with a reason, instead of a write that fails
		// on every retry.
		if err := c.checkSize(&next, "status"); err != nil {
			last = cur
			return err
		}
		writeStart := time.Now()
		updated, err := c.cfg.Client.UpdateWorkflowStatus(ctx, &next)
		c.metrics.writeSeconds.Observe(since(writeStart))
		if err != nil {
			c.cache.drop(k)
			if apierrors.IsConflict(err) {
				c.metrics.conflicts.Add(1)
			}
			if why := permanentAPIError(err); why != "" {
				last = cur
				return &errPermanent{reason: fmt.Sprintf("the workflow's status could not be written (%s: %v); %s", why, err, c.offloadAdvice())}
			}
			return fmt.Errorf("write workflow %s status: %w", k, err)
		}
		c.metrics.writes.Add(1)
		if len(removeAnnotations) > 0 {
			// The request is applied: take it off, so it applies once.
			done := *updated
			done.Annotations = maps.Clone(updated.Annotations)
			for _, a := range removeAnnotations {
				delete(done.Annotations, a)
			}
			if updated, err = c.cfg.Client.UpdateWorkflow(ctx, &done); err != nil {
				c.cache.drop(k)
				if why := permanentAPIError(err); why != "" {
					// The status is written; the request annotation stays
					// and is logged, not retried for ever.
					c.cfg.Logger.ErrorContext(ctx, "request annotation cannot be removed", "workflow", k.String(), "reason", why, "error", err)
					wf, written = updated, true
					return nil
				}
				return fmt.Errorf("write workflow %s annotations: %w", k, err)
			}
		}
		wf, written = updated, true
		return nil
	})
	var perm *errPermanent
	if errors.As(err, &perm) {
		failed, ferr := c.failRun(ctx, k, last, perm.reason)
		if ferr != nil {
			return ferr
		}
		if err := c.finish(ctx, failed); err != nil {
			return err
		}
		return nil
	}
	if err != nil {
		return err
	}
	if wf == nil {
		c.cfg.Logger.DebugContext(ctx, "input turned away", "workflow", k.String(), "input", in.Kind)
		return nil
	}
	if written {
		if wf.Status.Phase.Completed() {
			c.cache.drop(k)
		} else {
			c.cache.put(wf)
		}
	}
	if out.Ignored != "" {
		c.metrics.ignored.Add(1)
		c.cfg.Logger.DebugContext(ctx, "input ignored", "workflow", k.String(), "input", in.Kind, "reason", out.Ignored)
	}
	c.cancelSteps(ctx, wf, out.Cancel)
	if err := c.dispatch(ctx, wf, out.Dispatch); err != nil {
		return err
	}
	if !out.WakeAt.IsZero() {
		c.queue.AddAfter(k, max(time.Until(out.WakeAt), 0))
	}
	if out.Finished != nil || (in.Kind == engine.StepResult && wf.Status.Phase.Completed() && out.Ignored != "") {
		// A result redelivered to a completed run is the broker retrying
		// the advance that completed it, whose finished event may not
		// have gone out: send it again (its id is the run's, so the
		// archive stores it once).
		if err := c.finish(ctx, wf); err != nil {
			return err
		}
	}
	return nil
}

// settledNodes are the nodes an advance may have fulfilled: the one a
// result is for and the abandoned ones.
func settledNodes(in engine.Input, out engine.Outcome) []string {
	var ids []string
	if in.Result != nil {
		ids = append(ids, in.Result.NodeID)
	}
	for _, cn := range out.Cancel {
		ids = append(ids, cn.NodeID)
	}
	return ids
}

// load returns the workflow: this instance's last write of it, else a read.
func (c *Controller) load(ctx context.Context, k key) (wf *v1alpha1.Workflow, cached bool, err error) {
	if wf := c.cache.get(k); wf != nil {
		return wf, true, nil
	}
	wf, err = c.cfg.Client.GetWorkflow(ctx, k.namespace, k.name)
	if err != nil {
		return nil, false, fmt.Errorf("read workflow %s: %w", k, err)
	}
	return wf, false, nil
}

// redelivered reports whether in, on the workflow as read, is one the
// workflow took already: a result of an attempt that is over, or the
// submit of a run that started.
func redelivered(in engine.Input, cur *v1alpha1.Workflow, out engine.Outcome) bool {
	switch in.Kind {
	case engine.StepResult:
		return out.Ignored != ""
	case engine.Submit:
		return cur.Status.Phase != v1alpha1.WorkflowUnknown
	}
	return false
}

// errStaleCopy replays an input that this instance's cached copy of the
// workflow turned away or found nothing to do for: another instance may
// have written since (dispatched the attempt a result answers, retried
// the run), and a write is what would show it, by a conflict. Acting on
// the copy would drop that result or cancel a running step; the replay
// reads the workflow.
var errStaleCopy = errors.New("the cached copy of the workflow may be stale")

// replayable reports whether advance reads the workflow again and
// replays its input: a write conflict, or a cached copy it cannot trust.
func replayable(err error) bool {
	return apierrors.IsConflict(err) || errors.Is(err, errStaleCopy)
}

// prepare snapshots the templates a run uses and checks the run as a
// whole. It returns why the run cannot start ("" when it can), or an
// error when it could not tell.
func (c *Controller) prepare(ctx context.Context, wf *v1alpha1.Workflow) (string, error) {
	if err := snapshot(ctx, c.cfg.Client, wf); err != nil {
		var nf errNotFound
		if errors.As(err, &nf) {
			return err.Error(), nil
		}
		return "", err
	}
	spec := &wf.Spec
	if wf.Status.StoredWorkflowTemplateSpec != nil {
		spec = engine.MergeSpec(&wf.Spec, wf.Status.StoredWorkflowTemplateSpec)
	}
	if errs := v1alpha1.ValidateWorkflowSpec(spec, field.NewPath("spec"), true); len(errs) > 0 {
		return fmt.Sprintf("invalid spec: %v", errs.ToAggregate()), nil
	}
	// A repository that is not there fails the run at its start, by name,
	// not each step that would store into it.
	if _, err := c.resolveRepository(ctx, wf); err != nil {
		if isNotFound(err) {
			return err.Error(), nil
		}
		return "", err
	}
	return "", nil
}
