package controller

import (
	"context"
	"crypto/hmac"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// maxRunnerLength bounds the runner name a heartbeat may carry into the
// status.
const maxRunnerLength = 64

// stepAttempt is what a step event (result, heartbeat) names in its
// extensions: the workflow, the node and the attempt.
type stepAttempt struct {
	key
	node    string
	attempt int32
}

// stepAttemptOf reads the extensions of a step event of kind what.
func stepAttemptOf(ev event.Event, what string) (stepAttempt, error) {
	a := stepAttempt{key: key{events.Extension(ev, events.ExtNamespace), events.Extension(ev, events.ExtWorkflow)}, node: events.Extension(ev, events.ExtNode)}
	attempt, err := strconv.ParseInt(events.Extension(ev, events.ExtAttempt), 10, 32)
	if a.name == "" || a.namespace == "" || a.node == "" || err != nil || attempt < 0 {
		return a, sdk.Status(http.StatusBadRequest, fmt.Errorf("%s %s: the %s, %s, %s and %s extensions are required (got %q, %q, %q, %q)", what, ev.ID(),
			events.ExtNamespace, events.ExtWorkflow, events.ExtNode, events.ExtAttempt,
			a.namespace, a.name, a.node, events.Extension(ev, events.ExtAttempt)))
	}
	a.attempt = int32(attempt)
	return a, nil
}

// handleStepHeartbeat records that an attempt is alive, or tells the copy
// that sent it to stop: its attempt is over, another copy runs it, or its
// workflow is gone. Like a result, a heartbeat proves with the step token
// that it comes from the attempt's step.run.
func (c *Controller) handleStepHeartbeat(ctx context.Context, ev event.Event) error {
	a, err := stepAttemptOf(ev, "step.heartbeat")
	if err != nil {
		return err
	}
	var hb events.StepHeartbeat
	if err := ev.DataAs(&hb); err != nil {
		return sdk.Status(http.StatusBadRequest, fmt.Errorf("step.heartbeat %s: undecodable data: %w", ev.ID(), err))
	}
	if hb.Runner == "" || len(hb.Runner) > maxRunnerLength {
		return sdk.Status(http.StatusBadRequest, fmt.Errorf("step.heartbeat %s: data.runner must be 1 to %d characters, not %d", ev.ID(), maxRunnerLength, len(hb.Runner)))
	}
	// The id is the step.run's and a sequence number: the step.run's id
	// starts with the run key (the run's UID, and a retry's number).
	runKey, _, _ := strings.Cut(ev.ID(), "/")
	uid, _, _ := strings.Cut(runKey, ".")
	runID := StepRunID(runKey, a.node, a.attempt)
	if !strings.HasPrefix(ev.ID(), runID+"/") {
		return sdk.Status(http.StatusBadRequest, fmt.Errorf("step.heartbeat %s: the id must be the step.run's (%s), a slash and a sequence number", ev.ID(), runID))
	}
	token := events.Extension(ev, events.ExtStepToken)
	function := events.Extension(ev, events.ExtFunction)
	c.metrics.heartbeats.Add(1)
	var refused, orphaned string
	in := engine.Input{Kind: engine.Heartbeat, Heartbeat: &engine.HeartbeatOf{NodeID: a.node, Attempt: a.attempt, Runner: hb.Runner, Function: function}}
	err = c.advance(ctx, a.key, in, func(wf *v1alpha1.Workflow) bool {
		switch {
		case string(wf.UID) != uid:
			orphaned = "the workflow was deleted"
			return false
		case RunKey(wf) != runKey:
			orphaned = "the workflow was retried: this attempt belongs to its earlier run"
			return false
		}
		refused = c.checkResultToken(wf, a.node, a.attempt, token)
		return refused == ""
	})
	switch {
	case apierrors.IsNotFound(err) || (err == nil && orphaned != ""):
		// The workflow was deleted (perhaps made again under its name)
		// or retried: the copy still runs for nothing.
		if orphaned == "" {
			orphaned = "the workflow was deleted"
		}
		return c.cancelOrphan(ctx, a, uid, runKey, token, hb.Runner, function, orphaned)
	case err == nil && refused != "":
		c.metrics.refused.Add(1)
		c.cfg.Logger.InfoContext(ctx, "step.heartbeat refused", "workflow", a.String(), "node", a.node, "attempt", a.attempt, "id", ev.ID(), "source", ev.Source(), "reason", refused)
		return sdk.Status(http.StatusForbidden, fmt.Errorf("step.heartbeat %s: %s", ev.ID(), refused))
	case isPermanent(err):
		return sdk.Status(http.StatusUnprocessableEntity, fmt.Errorf("step.heartbeat %s: %w", ev.ID(), err))
	}
	return err
}

// cancelOrphan stops a copy whose workflow is gone. With no workflow to
// hold the token's hash, the token must be the one this instance's key
// gives the step.run: nobody else can make cancels for other runs' steps.
func (c *Controller) cancelOrphan(ctx context.Context, a stepAttempt, uid, runKey, token, runner, function, reason string) error {
	runID := StepRunID(runKey, a.node, a.attempt)
	if token == "" || !hmac.Equal([]byte(token), []byte(stepToken(c.cfg.TokenKey, runID))) {
		c.metrics.refused.Add(1)
		return sdk.Status(http.StatusForbidden, fmt.Errorf("step.heartbeat for %s: the %s extension does not match the dispatch of this attempt", runID, events.ExtStepToken))
	}
	wf := &v1alpha1.Workflow{}
	wf.Namespace, wf.Name, wf.UID = a.namespace, a.name, types.UID(uid)
	c.sendCancels(ctx, wf, runKey, []engine.Cancel{{NodeID: a.node, Attempt: a.attempt, Function: function, Runner: runner, Reason: reason}})
	return nil
}

// cancelSteps tells the functions of cancels to stop those attempts. A
// cancel that cannot be sent is logged, not retried: the attempt's next
// heartbeat asks again.
func (c *Controller) cancelSteps(ctx context.Context, wf *v1alpha1.Workflow, cancels []engine.Cancel) {
	c.sendCancels(ctx, wf, RunKey(wf), cancels)
}

// sendCancels sends the step.cancel of each of cancels, for the step.runs
// of run key runKey.
func (c *Controller) sendCancels(ctx context.Context, wf *v1alpha1.Workflow, runKey string, cancels []engine.Cancel) {
	for _, cn := range cancels {
		c.cfg.Logger.InfoContext(ctx, "step abandoned", "workflow", wf.Namespace+"/"+wf.Name, "node", cn.NodeID, "attempt", cn.Attempt, "runner", cn.Runner, "reason", cn.Reason)
		if cn.Function == "" {
			continue
		}
		runID := StepRunID(runKey, cn.NodeID, cn.Attempt)
		ev := c.stepEvent(wf, events.TypeStepCancel, cn.NodeID, cn.Attempt, cn.Function)
		// The token of the step.run named, which an orphan's run key
		// (not wf's) gives.
		ev.SetExtension(events.ExtStepToken, stepToken(c.cfg.TokenKey, runID))
		target := cn.Runner
		if target == "" {
			target = "all"
		}
		// A new id each time: the broker drops a repeated id for two
		// minutes, and a copy that a cancel missed (it reached another
		// pod of the Service) must get the next heartbeat's cancel.
		ev.SetID(runID + "/cancel/" + target + "/" + strconv.FormatInt(c.cfg.Now().UnixMicro(), 10))
		if err := ev.SetData(event.ApplicationJSON, events.StepCancel{RunID: runID, Runner: cn.Runner, Reason: cn.Reason}); err != nil {
			c.cfg.Logger.ErrorContext(ctx, "encode step.cancel", "id", ev.ID(), "error", err)
			continue
		}
		if err := c.send(ctx, ev); err != nil {
			c.cfg.Logger.WarnContext(ctx, "step.cancel not sent", "id", ev.ID(), "error", err)
			continue
		}
		c.metrics.cancels.Add(1)
	}
}
