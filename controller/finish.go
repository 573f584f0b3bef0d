package controller

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// finish announces a completed workflow with its run record.
func (c *Controller) finish(ctx context.Context, wf *v1alpha1.Workflow) error {
	ev, err := FinishedEvent(wf)
	if err != nil {
		return err
	}
	if err := c.send(ctx, ev); err != nil {
		return fmt.Errorf("announce workflow %s/%s finished: %w", wf.Namespace, wf.Name, err)
	}
	c.metrics.finished.Add(1)
	if wf.Labels[LabelCronWorkflow] != "" {
		if err := c.cronRunFinished(ctx, wf); err != nil {
			return err
		}
	}
	c.cfg.Logger.InfoContext(ctx, "workflow finished", "workflow", wf.Namespace+"/"+wf.Name, "phase", wf.Status.Phase, "message", wf.Status.Message, "duration", RunDuration(wf))
	return nil
}

// RunDuration is how long a completed run took: from its first node's
// start to its last node's end (the status's own timestamps are kept to the
// second).
func RunDuration(wf *v1alpha1.Workflow) time.Duration {
	var first, last int64 = -1, 0
	for _, n := range wf.Status.Nodes {
		if first < 0 || n.Started < first {
			first = n.Started
		}
		last = max(last, n.Finished)
	}
	if first < 0 || last < first {
		return 0
	}
	return time.Duration(last-first) * time.Millisecond
}

// FinishedEvent is the workflow.finished event of a completed workflow. Its
// id is the run's UID, so that announcing it twice is recognisable.
func FinishedEvent(wf *v1alpha1.Workflow) (event.Event, error) {
	ev := event.New()
	ev.SetID(string(wf.UID) + "/finished")
	ev.SetType(events.TypeWorkflowFinished)
	ev.SetSource(Source)
	ev.SetSubject(wf.Name)
	ev.SetExtension(events.ExtWorkflow, wf.Name)
	ev.SetExtension(events.ExtNamespace, wf.Namespace)
	if err := ev.SetData(event.ApplicationJSON, RunRecord(wf)); err != nil {
		return ev, fmt.Errorf("encode workflow.finished %s/%s: %w", wf.Namespace, wf.Name, err)
	}
	return ev, nil
}

// RunRecord is what is kept of a run once it is over: its phase and every
// node's timings, outcome and log key.
func RunRecord(wf *v1alpha1.Workflow) events.WorkflowFinished {
	st := wf.Status
	rec := events.WorkflowFinished{
		Workflow:  wf.Name,
		Namespace: wf.Namespace,
		UID:       string(wf.UID),
		Labels:    wf.Labels,
		Phase:     st.Phase,
		Message:   st.Message,
	}
	var base time.Time
	if st.StartedAt != nil {
		base = st.StartedAt.Time
		rec.StartedAt = base
	}
	if st.FinishedAt != nil {
		rec.FinishedAt = st.FinishedAt.Time
	}
	if len(wf.Spec.Arguments.Parameters) > 0 {
		rec.Arguments = map[string]string{}
		for _, p := range wf.Spec.Arguments.Parameters {
			rec.Arguments[p.Name] = p.ValueString()
		}
	}
	if st.Outputs != nil && len(st.Outputs.Parameters) > 0 {
		rec.Outputs = map[string]string{}
		for _, p := range st.Outputs.Parameters {
			rec.Outputs[p.Name] = p.ValueString()
		}
	}
	var last int64
	for _, n := range st.Nodes {
		last = max(last, n.Finished)
	}
	if last > 0 && st.FinishedAt != nil {
		// status.finishedAt is kept to the second; the nodes know better.
		rec.FinishedAt = base.Add(time.Duration(last) * time.Millisecond)
	}
	ids := make([]string, 0, len(st.Nodes))
	for id := range st.Nodes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		n := st.Nodes[id]
		rn := events.RunNode{ID: id, Type: n.Type, Phase: n.Phase, StartedAt: base.Add(time.Duration(n.Started) * time.Millisecond), Retries: n.Retries, Message: n.Message, Outputs: n.Outputs}
		if n.Phase.Fulfilled() {
			f := base.Add(time.Duration(n.Finished) * time.Millisecond)
			rn.FinishedAt = &f
		}
		if n.Type == v1alpha1.NodeTypeLeaf && n.Phase != v1alpha1.NodeSkipped && n.Phase != v1alpha1.NodeOmitted {
			rn.LogKey = events.StepLogKey(wf.Namespace, wf.Name, id, n.Retries)
		}
		rec.Nodes = append(rec.Nodes, rn)
	}
	return rec
}
