package controller

import (
	"context"
	"crypto/hmac"
	"fmt"
	"net/http"
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
	case events.TypeStepHeartbeat:
		return nil, c.handleStepHeartbeat(ctx, ev)
	case events.TypeKnativePing:
		if events.Extension(ev, events.ExtCronWorkflow) != "" {
			return nil, c.handleCron(ctx, ev)
		}
		return nil, c.handleTick(ctx, ev)
	case events.TypeWorkflowTick:
		return nil, c.handleTick(ctx, ev)
	default:
		return nil, sdk.Status(http.StatusBadRequest, fmt.Errorf("the controller takes %s, %s, %s and %s events, not %q", events.TypeWorkflowSubmit, events.TypeStepResult, events.TypeStepHeartbeat, events.TypeWorkflowTick, ev.Type()))
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
	extNS := events.Extension(ev, events.ExtNamespace)
	if wf.Namespace == "" {
		wf.Namespace = extNS
	}
	caller, known := sdk.CallerFrom(ctx)
	if wf.Namespace == "" {
		wf.Namespace = caller.Namespace()
	}
	if wf.Namespace == "" {
		wf.Namespace = "default"
	}
	if err := c.checkSubmitNamespace(caller, known, extNS, wf.Namespace); err != nil {
		c.metrics.refused.Add(1)
		c.cfg.Logger.InfoContext(ctx, "workflow.submit refused", "id", ev.ID(), "source", ev.Source(), "workflow", wf.Namespace+"/"+wf.Name, "caller", caller.Subject, "reason", err)
		return sdk.Status(http.StatusForbidden, fmt.Errorf("workflow.submit %s: %w", ev.ID(), err))
	}
	if err := c.offloadArguments(ctx, wf); err != nil {
		if isPermanent(err) {
			return sdk.Status(http.StatusBadRequest, fmt.Errorf("workflow.submit %s: workflow %s/%s: %w", ev.ID(), wf.Namespace, wf.Name, err))
		}
		return fmt.Errorf("workflow.submit %s: workflow %s/%s: %w", ev.ID(), wf.Namespace, wf.Name, err)
	}
	if errs := v1alpha1.ValidateWorkflow(wf); len(errs) > 0 {
		return sdk.Status(http.StatusBadRequest, fmt.Errorf("workflow.submit %s: workflow %s/%s is invalid: %w", ev.ID(), wf.Namespace, wf.Name, errs.ToAggregate()))
	}
	if err := c.checkSize(wf, "spec"); err != nil {
		return sdk.Status(http.StatusRequestEntityTooLarge, fmt.Errorf("workflow.submit %s: workflow %s/%s: %w", ev.ID(), wf.Namespace, wf.Name, err))
	}
	if err := c.start(ctx, wf, ev.ID()); err != nil {
		if isPermanent(err) {
			// The run exists and ended in Error with the reason: the
			// broker must not deliver the submit again.
			return sdk.Status(http.StatusUnprocessableEntity, fmt.Errorf("workflow.submit %s: %w", ev.ID(), err))
		}
		return fmt.Errorf("workflow.submit %s: %w", ev.ID(), err)
	}
	return nil
}

// checkSubmitNamespace says why a submit may not create a workflow in ns.
// The controller may write Workflows in every namespace it serves, so RBAC
// does not stop a sender in one namespace from starting a workflow, with
// its ServiceAccount and its secrets, in another: the controller checks it
// itself. A sender is known by its verified identity (a Trigger delivers
// with the Trigger's, in the Trigger's namespace); a submit must stay in
// that namespace unless a cluster admin allowed the pair (CrossNamespace).
// Without a verified sender (sender identity off), the namespace the event
// claims (zfnamespace) must at least agree with the workflow's.
func (c *Controller) checkSubmitNamespace(caller sdk.Caller, known bool, extNS, ns string) error {
	if !known {
		if extNS != "" && extNS != ns {
			return fmt.Errorf("the workflow's namespace %q is not the event's %s %q", ns, events.ExtNamespace, extNS)
		}
		return nil
	}
	from := caller.Namespace()
	if from == ns {
		return nil
	}
	for _, p := range c.cfg.CrossNamespace {
		if p.allows(from, ns) {
			return nil
		}
	}
	if from == "" {
		return fmt.Errorf("sender %q is not a ServiceAccount of a namespace, so it may not start workflows in %q (a cluster admin can allow it with --allow-cross-namespace)", caller.Subject, ns)
	}
	return fmt.Errorf("sender %q is in namespace %q and may start workflows only there, not in %q (a cluster admin can allow it with --allow-cross-namespace=%s=%s)", caller.Subject, from, ns, from, ns)
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
	case permanentAPIError(err) != "":
		// Refused for good (invalid, too large): a retry would be
		// refused the same, so the sender is told, not asked to retry.
		return sdk.Status(submitStatus(err), fmt.Errorf("create %s/%s: %w", wf.Namespace, wf.Name, err))
	case apierrors.IsForbidden(err):
		// The controller's RBAC does not reach the namespace: redelivery
		// meets the same refusal, so the submit goes to the dead letters
		// with the reason instead.
		return sdk.Status(http.StatusForbidden, fmt.Errorf("create %s/%s: the controller may not create Workflows there: %w", wf.Namespace, wf.Name, err))
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
	a, err := stepAttemptOf(ev, "step.result")
	if err != nil {
		return err
	}
	k, node, attempt := a.key, a.node, a.attempt
	var res events.StepResult
	if err := ev.DataAs(&res); err != nil {
		return sdk.Status(http.StatusBadRequest, fmt.Errorf("step.result %s: undecodable data: %w", ev.ID(), err))
	}
	switch res.Phase {
	case v1alpha1.NodeSucceeded, v1alpha1.NodeFailed, v1alpha1.NodeError:
	default:
		return sdk.Status(http.StatusBadRequest, fmt.Errorf("step.result %s: phase %q is not Succeeded, Failed or Error", ev.ID(), res.Phase))
	}
	if why := checkResultRefs(k.namespace, res.Outputs); why != "" {
		// A reference that is not this namespace's content key could make
		// the next step read what is not its run's: the node fails, by
		// name, and the run goes on as for any failed step.
		c.cfg.Logger.InfoContext(ctx, "step.result with an invalid offloaded value", "workflow", k.String(), "node", node, "reason", why)
		res.Phase, res.Message, res.Outputs = v1alpha1.NodeError, "invalid offloaded output: "+why, nil
	}
	c.metrics.results.Add(1)
	in := engine.Input{Kind: engine.StepResult, Result: &engine.Result{NodeID: node, Attempt: int32(attempt), Phase: res.Phase, Message: res.Message, Outputs: res.Outputs}}
	// The id starts with the run key (see RunKey): a result for an
	// earlier workflow of the same name, or for the run before a retry,
	// must not land on this one. The key is no secret, though: the step
	// token is the proof that the result answers this run's dispatch.
	runKey, _, _ := strings.Cut(ev.ID(), "/")
	token := events.Extension(ev, events.ExtStepToken)
	var refused string
	err = c.advance(ctx, k, in, func(wf *v1alpha1.Workflow) bool {
		if RunKey(wf) != runKey {
			return false
		}
		refused = c.checkResultToken(wf, node, int32(attempt), token)
		return refused == ""
	})
	if apierrors.IsNotFound(err) {
		// The workflow was deleted: nothing is waiting for this result.
		c.cfg.Logger.InfoContext(ctx, "result for a deleted workflow", "workflow", k.String(), "node", node)
		return nil
	}
	if err == nil && refused != "" {
		c.metrics.refused.Add(1)
		// Info, not Warn: anyone who can reach the controller can cause
		// this line. Never the token itself: a wrong one may be a
		// near miss of the right one.
		c.cfg.Logger.InfoContext(ctx, "step.result refused", "workflow", k.String(), "node", node, "attempt", attempt, "id", ev.ID(), "source", ev.Source(), "reason", refused)
		// 403 is final: the broker does not retry it, so a forgery is
		// not redelivered for ever.
		return sdk.Status(http.StatusForbidden, fmt.Errorf("step.result %s: %s", ev.ID(), refused))
	}
	if isPermanent(err) {
		// Not even the Error status could be written: redelivery would
		// fail the same way.
		return sdk.Status(http.StatusUnprocessableEntity, fmt.Errorf("step.result %s: %w", ev.ID(), err))
	}
	return err
}

// checkResultToken says why a result for attempt of node of wf does not
// prove that it answers that attempt's step.run ("" when it does). The
// proof is the step token: one that hashes to what the node record keeps
// for its current attempt (whichever instance dispatched it), or the one
// this instance's key gives (a late duplicate for a node that is done, or
// an attempt dispatched again by this instance).
func (c *Controller) checkResultToken(wf *v1alpha1.Workflow, node string, attempt int32, token string) string {
	if token == "" {
		return "no " + events.ExtStepToken + " extension: a step.result must echo the token of its step.run"
	}
	if n, ok := wf.Status.Nodes[node]; ok && n.Retries == attempt && tokenMatches(token, n.TokenHash) {
		return ""
	}
	if hmac.Equal([]byte(token), []byte(c.stepToken(wf, node, attempt))) {
		return ""
	}
	return "the " + events.ExtStepToken + " extension does not match the dispatch of this attempt"
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
