package controller

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// Handle takes one CloudEvent from the broker. It answers only once the
// event's effect is persisted and its dispatches sent, so the broker
// redelivers an event whose handling failed; a redelivery is harmless,
// because every input is idempotent.
func (c *Controller) Handle(ctx context.Context, ev event.Event) (*event.Event, error) {
	switch ev.Type() {
	case events.TypeWorkflowSubmit:
		return nil, c.handleSubmit(ctx, ev)
	case events.TypeStepResult:
		return nil, c.handleStepResult(ctx, ev)
	case events.TypeKnativePing:
		if events.Extension(ev, events.ExtCronWorkflow) != "" {
			return nil, c.handleCron(ctx, ev)
		}
		return nil, c.handleTick(ctx, ev)
	case events.TypeWorkflowTick:
		return nil, c.handleTick(ctx, ev)
	default:
		return nil, sdk.Status(http.StatusBadRequest, fmt.Errorf("the controller takes %s, %s and %s events, not %q", events.TypeWorkflowSubmit, events.TypeStepResult, events.TypeWorkflowTick, ev.Type()))
	}
}

func (c *Controller) handleSubmit(ctx context.Context, ev event.Event) error {
	var sub events.WorkflowSubmit
	if err := ev.DataAs(&sub); err != nil {
		return sdk.Status(http.StatusBadRequest, fmt.Errorf("workflow.submit %s: undecodable data: %w", ev.ID(), err))
	}
	wf := sub.Workflow
	if wf == nil || wf.Name == "" {
		return sdk.Status(http.StatusBadRequest, fmt.Errorf("workflow.submit %s: data.workflow with a metadata.name is required", ev.ID()))
	}
	if wf.Namespace == "" {
		wf.Namespace = events.Extension(ev, events.ExtNamespace)
	}
	if wf.Namespace == "" {
		wf.Namespace = "default"
	}
	if errs := v1alpha1.ValidateWorkflow(wf); len(errs) > 0 {
		return sdk.Status(http.StatusBadRequest, fmt.Errorf("workflow.submit %s: workflow %s/%s is invalid: %w", ev.ID(), wf.Namespace, wf.Name, errs.ToAggregate()))
	}
	if err := c.start(ctx, wf, ev.ID()); err != nil {
		return fmt.Errorf("workflow.submit %s: %w", ev.ID(), err)
	}
	return nil
}

// start creates wf and starts it. A workflow that exists already is a
// redelivery: advancing it again starts it if the first try failed before
// it could. submitID marks it as started here, not by the watch.
func (c *Controller) start(ctx context.Context, wf *v1alpha1.Workflow, submitID string) error {
	wf.Status = v1alpha1.WorkflowStatus{}
	wf.ResourceVersion = ""
	if wf.Annotations == nil {
		wf.Annotations = map[string]string{}
	}
	wf.Annotations[AnnotationSubmitID] = submitID
	_, err := c.cfg.Client.CreateWorkflow(ctx, wf)
	switch {
	case apierrors.IsAlreadyExists(err):
		c.metrics.duplicateSubmits.Add(1)
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return sdk.Status(http.StatusBadRequest, fmt.Errorf("create %s/%s: %w", wf.Namespace, wf.Name, err))
	case err != nil:
		return fmt.Errorf("create %s/%s: %w", wf.Namespace, wf.Name, err)
	default:
		c.metrics.submits.Add(1)
		// Not cached: a redelivered submit may already have advanced it,
		// and the cache holds only this instance's latest writes.
		c.cfg.Logger.InfoContext(ctx, "workflow created", "workflow", wf.Namespace+"/"+wf.Name, "submit", submitID)
	}
	return c.advance(ctx, key{wf.Namespace, wf.Name}, engine.Input{Kind: engine.Submit}, nil)
}

func (c *Controller) handleStepResult(ctx context.Context, ev event.Event) error {
	k := key{events.Extension(ev, events.ExtNamespace), events.Extension(ev, events.ExtWorkflow)}
	node := events.Extension(ev, events.ExtNode)
	attempt, err := strconv.ParseInt(events.Extension(ev, events.ExtAttempt), 10, 32)
	if k.name == "" || k.namespace == "" || node == "" || err != nil {
		return sdk.Status(http.StatusBadRequest, fmt.Errorf("step.result %s: the %s, %s, %s and %s extensions are required (got %q, %q, %q, %q)", ev.ID(),
			events.ExtNamespace, events.ExtWorkflow, events.ExtNode, events.ExtAttempt,
			k.namespace, k.name, node, events.Extension(ev, events.ExtAttempt)))
	}
	var res events.StepResult
	if err := ev.DataAs(&res); err != nil {
		return sdk.Status(http.StatusBadRequest, fmt.Errorf("step.result %s: undecodable data: %w", ev.ID(), err))
	}
	switch res.Phase {
	case v1alpha1.NodeSucceeded, v1alpha1.NodeFailed, v1alpha1.NodeError:
	default:
		return sdk.Status(http.StatusBadRequest, fmt.Errorf("step.result %s: phase %q is not Succeeded, Failed or Error", ev.ID(), res.Phase))
	}
	c.metrics.results.Add(1)
	in := engine.Input{Kind: engine.StepResult, Result: &engine.Result{NodeID: node, Attempt: int32(attempt), Phase: res.Phase, Message: res.Message, Outputs: res.Outputs}}
	// The id starts with the run's UID: a result for an earlier workflow
	// of the same name must not land on this one.
	uid, _, _ := strings.Cut(ev.ID(), "/")
	err = c.advance(ctx, k, in, func(wf *v1alpha1.Workflow) bool { return string(wf.UID) == uid })
	if apierrors.IsNotFound(err) {
		// The workflow was deleted: nothing is waiting for this result.
		c.cfg.Logger.InfoContext(ctx, "result for a deleted workflow", "workflow", k.String(), "node", node)
		return nil
	}
	return err
}

func (c *Controller) handleTick(ctx context.Context, ev event.Event) error {
	name, ns := events.Extension(ev, events.ExtWorkflow), events.Extension(ev, events.ExtNamespace)
	if name != "" && ns != "" {
		err := c.reconcile(ctx, key{ns, name})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	return c.resync(ctx)
}
