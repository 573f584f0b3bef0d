package controller

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

// Source is the CloudEvent source of what the controller sends.
const Source = "/zeroflow/controller"

// sendBackoff retries a send the broker refused: the status already says the
// step is running, so a dispatch given up on waits for a resync.
var sendBackoff = wait.Backoff{Steps: 6, Duration: 20 * time.Millisecond, Factor: 2, Jitter: 0.2}

// dispatch sends a step.run for each attempt, a bounded number at once.
func (c *Controller) dispatch(ctx context.Context, wf *v1alpha1.Workflow, ds []engine.Dispatch) error {
	if len(ds) == 0 {
		return nil
	}
	// Resolved here, per dispatch (cached), so that every instance and a
	// restarted one send the same repository; prepare checked at the
	// start that the ref names one.
	repo, err := c.resolveRepository(ctx, wf)
	if err != nil {
		return fmt.Errorf("dispatch %s: %w", wf.Name, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.cfg.DispatchConcurrency)
	for _, d := range ds {
		ev, err := c.stepRunEvent(wf, d, repo)
		if err != nil {
			return err
		}
		g.Go(func() error {
			if err := c.send(gctx, ev); err != nil {
				return fmt.Errorf("dispatch %s node %s attempt %d: %w", wf.Name, d.NodeID, d.Attempt, err)
			}
			c.metrics.dispatches.Add(1)
			return nil
		})
	}
	return g.Wait()
}

// send delivers ev to the broker, retrying a refusal a few times.
func (c *Controller) send(ctx context.Context, ev event.Event) error {
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, sendBackoff, func(ctx context.Context) (bool, error) {
		start := time.Now()
		last = c.cfg.Send(ctx, ev)
		c.metrics.sendSeconds.Observe(since(start))
		return last == nil, nil
	})
	if err != nil && last != nil {
		return last
	}
	return err
}

// StepRunID is the id of the step.run of one attempt: the reply carries it
// back, and the run key in it (see RunKey) keeps results from landing on a
// later workflow of the same name or on a node made again by a retry.
func StepRunID(runKey, node string, attempt int32) string {
	return runKey + "/" + node + "/" + strconv.Itoa(int(attempt))
}

// RunKey is the first part of the ids of wf's step events: its UID, and
// after `zeroflow retry` the retry's number (UID.rN). A retried node
// starts again at attempt 0, so without the number its step.run would
// have the id and token of the first run's: a function keeping results by
// id would answer with the old result, and a late result of the first run
// would pass as the new one's.
func RunKey(wf *v1alpha1.Workflow) string {
	if wf.Status.Resets > 0 {
		return string(wf.UID) + ".r" + strconv.Itoa(int(wf.Status.Resets))
	}
	return string(wf.UID)
}

// stepToken is the token of one attempt of a node of wf.
func (c *Controller) stepToken(wf *v1alpha1.Workflow, node string, attempt int32) string {
	return stepToken(c.cfg.TokenKey, StepRunID(RunKey(wf), node, attempt))
}

// bindDispatches records in st the token hash of each attempt about to be
// dispatched, so that whichever instance takes the result can check it.
// A second dispatch of the same attempt has the same token, so it
// changes nothing. A node that is fulfilled keeps no hash: a finished status
// stays as small as before, and a late duplicate of its result is checked
// against the key instead (see acceptResult).
func (c *Controller) bindDispatches(wf *v1alpha1.Workflow, st *v1alpha1.WorkflowStatus, ds []engine.Dispatch, settled []string) {
	for _, d := range ds {
		n, ok := st.Nodes[d.NodeID]
		if !ok {
			continue
		}
		n.TokenHash = tokenHash(c.stepToken(wf, d.NodeID, d.Attempt))
		st.Nodes[d.NodeID] = n
	}
	if st.Phase.Completed() {
		// Once per run: whatever ended without a result of its own (a
		// node failed while it waited for a retry) goes too.
		settled = nil
		for id, n := range st.Nodes {
			if n.TokenHash != "" {
				settled = append(settled, id)
			}
		}
	}
	for _, id := range settled {
		if n, ok := st.Nodes[id]; ok && n.TokenHash != "" && n.Phase.Fulfilled() {
			n.TokenHash = ""
			st.Nodes[id] = n
		}
	}
}

// stepRunEvent is the step.run of one dispatch, carrying its token and the
// liveness times its runtime keeps to.
func (c *Controller) stepRunEvent(wf *v1alpha1.Workflow, d engine.Dispatch, repo *v1alpha1.ArtifactRepository) (event.Event, error) {
	ev := c.stepEvent(wf, events.TypeStepRun, d.NodeID, d.Attempt, d.Function)
	ev.SetID(StepRunID(RunKey(wf), d.NodeID, d.Attempt))
	run := events.StepRun{Workflow: wf.Name, Namespace: wf.Namespace, UID: string(wf.UID), NodeID: d.NodeID, Attempt: d.Attempt, Template: d.Template, Refs: d.Refs,
		ServiceAccountName: stepServiceAccount(wf, d.Template), ArtifactRepository: repo,
		HeartbeatSeconds: seconds(c.cfg.HeartbeatInterval), LostAfterSeconds: seconds(c.cfg.LostAfter)}
	if !d.Deadline.IsZero() {
		dl := d.Deadline
		run.Deadline = &dl
	}
	if err := ev.SetData(event.ApplicationJSON, run); err != nil {
		return ev, fmt.Errorf("encode step.run %s: %w", ev.ID(), err)
	}
	return ev, nil
}

// stepEvent is an event of type typ about an attempt of a node of wf, with
// the attempt's routing extensions and step token.
func (c *Controller) stepEvent(wf *v1alpha1.Workflow, typ, node string, attempt int32, function string) event.Event {
	ev := event.New()
	ev.SetType(typ)
	ev.SetSource(Source)
	ev.SetSubject(wf.Name)
	ev.SetExtension(events.ExtWorkflow, wf.Name)
	ev.SetExtension(events.ExtNamespace, wf.Namespace)
	ev.SetExtension(events.ExtNode, node)
	ev.SetExtension(events.ExtAttempt, strconv.Itoa(int(attempt)))
	ev.SetExtension(events.ExtFunction, function)
	ev.SetExtension(events.ExtStepToken, c.stepToken(wf, node, attempt))
	return ev
}

// seconds rounds d up to whole seconds, as the step.run carries it.
func seconds(d time.Duration) int32 { return int32((d + time.Second - 1) / time.Second) }

// stepServiceAccount is the identity a step acts with, as Argo picks its
// pod's: the template's serviceAccountName, else the workflow's, else the
// one of the WorkflowTemplate it runs.
func stepServiceAccount(wf *v1alpha1.Workflow, t v1alpha1.Template) string {
	switch {
	case t.ServiceAccountName != "":
		return t.ServiceAccountName
	case wf.Spec.ServiceAccountName != "":
		return wf.Spec.ServiceAccountName
	case wf.Status.StoredWorkflowTemplateSpec != nil:
		return wf.Status.StoredWorkflowTemplateSpec.ServiceAccountName
	}
	return ""
}
