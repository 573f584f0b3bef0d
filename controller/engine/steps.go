package engine

import (
	"fmt"
	"strconv"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

func stepGroupID(stepsID string, i int) string { return stepsID + "[" + strconv.Itoa(i) + "]" }

func stepID(groupID, name string) string { return groupID + "." + name }

// execSteps runs step groups one after another.
func (op *operation) execSteps(f frame) *v1alpha1.NodeStatus {
	n, in, done, stop := op.openContainer(f, v1alpha1.NodeTypeSteps)
	if stop {
		return done
	}
	ids := map[string]string{}
	steps := map[string]*v1alpha1.WorkflowStep{}
	for i, group := range f.tmpl.Steps {
		for j := range group {
			ids[group[j].Name] = stepID(stepGroupID(f.id, i), group[j].Name)
			steps[group[j].Name] = &f.tmpl.Steps[i][j]
		}
	}
	sc := &scope{parent: op.inputScope(in), refs: &nodeRefs{op: op, prefix: "steps", ids: ids, template: func(name string) *v1alpha1.Template {
		s, ok := steps[name]
		if !ok {
			return nil
		}
		t, _, err := op.resolveRef(f.ref, s.Template, s.TemplateRef)
		if err != nil {
			return nil
		}
		return t
	}}}
	children := &boundary{failFast: f.tmpl.FailFast != nil && *f.tmpl.FailFast}
	if f.tmpl.Parallelism != nil {
		children.limit = *f.tmpl.Parallelism
	}

	for i, group := range f.tmpl.Steps {
		gid := stepGroupID(f.id, i)
		g, ok := op.node(gid)
		if !ok {
			if b, why := op.blocked(f); b {
				n = op.fulfil(f.id, n, v1alpha1.NodeFailed, why)
				return &n
			}
			if op.suspended {
				return &n
			}
			g = op.newNode(v1alpha1.NodeRunning, v1alpha1.NodeTypeStepGroup, "")
			op.setNode(gid, g)
		}
		if !g.Phase.Fulfilled() {
			g = op.execStepGroup(f, gid, group, g, sc, children)
		}
		if !g.Phase.Fulfilled() {
			return &n
		}
		if g.Phase.FailedOrError() {
			n = op.fulfil(f.id, n, v1alpha1.NodeFailed, g.Message)
			return &n
		}
	}
	outs, err := op.templateOutputs(f.tmpl, sc)
	if err != nil {
		n = op.fulfil(f.id, n, v1alpha1.NodeError, err.Error())
		return &n
	}
	n.Outputs = outs
	op.publishGlobals(f.tmpl, outs)
	n = op.fulfil(f.id, n, v1alpha1.NodeSucceeded, "")
	return &n
}

// execStepGroup runs the steps of one group in parallel.
func (op *operation) execStepGroup(f frame, gid string, group []v1alpha1.WorkflowStep, g v1alpha1.NodeStatus, sc *scope, children *boundary) v1alpha1.NodeStatus {
	if children.limit > 0 {
		for i := range group {
			if c, ok := op.node(stepID(gid, group[i].Name)); ok {
				children.running += op.runningIn(stepID(gid, group[i].Name), c)
			}
		}
	}
	stepFrame := func(s *v1alpha1.WorkflowStep) frame {
		return op.callFrame(f, stepID(gid, s.Name), s.Template, s.TemplateRef, s.Arguments, sc, children, false)
	}
	execStep := func(s *v1alpha1.WorkflowStep, sf frame) *v1alpha1.NodeStatus {
		l := loopOf(s.WithItems, s.WithParam, s.WithSequence)
		if l == nil {
			return op.execute(sf)
		}
		return op.execLoop(loopRun{group: sf, loop: l, sc: sc, when: s.When, args: s.Arguments, bound: children})
	}

	allStarted := true
	for i := range group {
		s := &group[i]
		id := stepID(gid, s.Name)
		c, ok := op.node(id)
		switch {
		case ok && !c.Phase.Fulfilled():
			if after := op.advanceChild(stepFrame(s), c, children, func(sf frame) *v1alpha1.NodeStatus { return execStep(s, sf) }); after != nil {
				c = *after
			}
		case !ok:
			if !op.canStart(f) {
				allStarted = false
				continue
			}
			sf := stepFrame(s)
			var started *v1alpha1.NodeStatus
			if loopOf(s.WithItems, s.WithParam, s.WithSequence) == nil && s.When != "" {
				if skip, created := op.evalWhen(id, s.When, sc); skip {
					started = created
				}
			}
			if started == nil {
				started = execStep(s, sf)
			}
			if started == nil {
				allStarted = false
				continue
			}
			c = *started
		}
		op.runHooks(f, id, c, s.Hooks, s.OnExit, s.Arguments, sc)
	}

	for i := range group {
		s := &group[i]
		id := stepID(gid, s.Name)
		c, ok := op.node(id)
		if ok && (!c.Phase.Fulfilled() || !op.hooksSettled(id, c, s.Hooks, s.OnExit)) {
			return g
		}
	}
	if !allStarted {
		if b, why := op.blocked(f); b {
			return op.fulfil(gid, g, v1alpha1.NodeFailed, why)
		}
		return g
	}
	for i := range group {
		s := &group[i]
		id := stepID(gid, s.Name)
		c, _ := op.node(id)
		if c.Phase.FailedOrError() && !continues(s.ContinueOn, c.Phase) {
			return op.fulfil(gid, g, v1alpha1.NodeFailed, fmt.Sprintf("child '%s' failed", id))
		}
	}
	return op.fulfil(gid, g, v1alpha1.NodeSucceeded, "")
}
