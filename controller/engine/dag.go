package engine

import (
	"container/heap"
	"fmt"
	"slices"
	"strings"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

// taskID is the ID of a DAG task's node.
func taskID(dagID, task string) string { return dagID + "." + task }

// dagRun executes one DAG node during one advance.
type dagRun struct {
	op    *operation
	f     frame
	dag   *v1alpha1.DAGTemplate
	tasks map[string]*v1alpha1.DAGTask
	order []*v1alpha1.DAGTask
	// children is the parallelism boundary of the DAG's tasks.
	children *boundary
	sc       *scope
	// stopReason, once set, is why dag.failFast starts no new task.
	stopReason string
}

func (op *operation) execDAG(f frame) *v1alpha1.NodeStatus {
	n, in, done, stop := op.openContainer(f, v1alpha1.NodeTypeDAG)
	if stop {
		return done
	}
	var err error
	d := &dagRun{op: op, f: f, dag: f.tmpl.DAG, tasks: map[string]*v1alpha1.DAGTask{}}
	for i := range d.dag.Tasks {
		t := &d.dag.Tasks[i]
		d.tasks[t.Name] = t
	}
	if d.order, err = op.dagOrder(d.dag); err != nil {
		n = op.fulfil(f.id, n, v1alpha1.NodeError, err.Error())
		return &n
	}
	d.sc = op.inputScope(in)
	d.sc = &scope{parent: d.sc, refs: &nodeRefs{op: op, prefix: "tasks", ids: d.taskIDs(), template: d.templateOf}}
	d.children = &boundary{failFast: f.tmpl.FailFast != nil && *f.tmpl.FailFast}
	if f.tmpl.Parallelism != nil {
		d.children.limit = *f.tmpl.Parallelism
	}
	n = d.run(n)
	return &n
}

func (d *dagRun) taskIDs() map[string]string {
	ids := make(map[string]string, len(d.dag.Tasks))
	for name := range d.tasks {
		ids[name] = taskID(d.f.id, name)
	}
	return ids
}

func (d *dagRun) templateOf(name string) *v1alpha1.Template {
	t, ok := d.tasks[name]
	if !ok {
		return nil
	}
	tmpl, _, err := d.op.resolveRef(d.f.ref, t.Template, t.TemplateRef)
	if err != nil {
		return nil
	}
	return tmpl
}

func (d *dagRun) run(n v1alpha1.NodeStatus) v1alpha1.NodeStatus {
	op := d.op
	failFast := d.dag.FailFast == nil || *d.dag.FailFast

	// Count what runs before anything moves, so that parallelism holds.
	if d.children.limit > 0 {
		for _, t := range d.order {
			if c, ok := op.node(taskID(d.f.id, t.Name)); ok && c.Phase == v1alpha1.NodeRunning {
				d.children.running += op.runningIn(taskID(d.f.id, t.Name), c)
			}
		}
	}

	// Pass 1: advance the tasks that exist.
	for _, t := range d.order {
		id := taskID(d.f.id, t.Name)
		c, ok := op.node(id)
		if !ok {
			continue
		}
		if !c.Phase.Fulfilled() {
			if after := op.advanceChild(d.taskFrame(t), c, d.children, func(f frame) *v1alpha1.NodeStatus { return d.executeTask(t, f) }); after != nil {
				c = *after
			}
		}
		op.runHooks(d.f, id, c, t.Hooks, t.OnExit, t.Arguments, d.sc)
		if failFast && d.unhandledFailure(t, c) && d.stopReason == "" {
			d.stopReason = fmt.Sprintf("child '%s' failed", id)
		}
	}

	// Pass 2: start the tasks whose dependencies are settled, in
	// topological order so that one pass reaches every ready task.
	for _, t := range d.order {
		id := taskID(d.f.id, t.Name)
		if _, ok := op.node(id); ok {
			continue
		}
		c := d.start(t)
		if c == nil {
			continue
		}
		op.runHooks(d.f, id, *c, t.Hooks, t.OnExit, t.Arguments, d.sc)
		if failFast && d.unhandledFailure(t, *c) && d.stopReason == "" {
			d.stopReason = fmt.Sprintf("child '%s' failed", id)
		}
	}
	return d.assess(n)
}

// advanceChild advances an existing, unfulfilled child and keeps the
// boundary's count of running children right.
func (op *operation) advanceChild(f frame, c v1alpha1.NodeStatus, b *boundary, exec func(frame) *v1alpha1.NodeStatus) *v1alpha1.NodeStatus {
	after := exec(f)
	if after == nil {
		return nil
	}
	// Loop groups count their own items as they start and finish.
	if c.Type != v1alpha1.NodeTypeTaskGroup && c.Phase == v1alpha1.NodeRunning && after.Phase != v1alpha1.NodeRunning {
		b.running--
	}
	if after.Phase.FailedOrError() {
		b.childFailed = true
	}
	return after
}

// runningIn is how many parallelism slots a node holds: one for a running
// node, one per running item for a loop group.
func (op *operation) runningIn(id string, n v1alpha1.NodeStatus) int64 {
	if n.Phase != v1alpha1.NodeRunning {
		return 0
	}
	if n.Type != v1alpha1.NodeTypeTaskGroup {
		return 1
	}
	var count int64
	for i := 0; ; i++ {
		item, ok := op.node(itemID(id, i))
		if !ok {
			return count
		}
		if item.Phase == v1alpha1.NodeRunning {
			count++
		}
	}
}

// unhandledFailure reports whether t failed and nothing handles it: no task
// that depends on t still runs or can still run (continueOn, t.Failed and
// "t || u" all leave a dependent that can), and t's own continueOn does not
// cover it. With dag.failFast, such a failure starts nothing new.
func (d *dagRun) unhandledFailure(t *v1alpha1.DAGTask, c v1alpha1.NodeStatus) bool {
	if !c.Phase.FailedOrError() || continues(t.ContinueOn, c.Phase) {
		return false
	}
	op := d.op
	for _, dt := range d.order {
		dep, err := op.dependsOf(dt)
		if err != nil || !slices.Contains(dep.Tasks(), t.Name) {
			continue
		}
		if n, ok := op.node(taskID(d.f.id, dt.Name)); ok {
			if n.Phase != v1alpha1.NodeOmitted {
				return false
			}
			continue
		}
		canRun, err := dep.CanHold(func(o expression.Operand) (bool, bool) {
			if n, ok := op.node(taskID(d.f.id, o.Task)); !ok || !n.Phase.Fulfilled() {
				return false, false
			}
			return d.operand(o), true
		})
		if err != nil || canRun {
			return false
		}
	}
	return true
}

func continues(c *v1alpha1.ContinueOn, phase v1alpha1.NodePhase) bool {
	if c == nil {
		return false
	}
	return (phase == v1alpha1.NodeFailed && c.Failed) || (phase == v1alpha1.NodeError && c.Error)
}

// mustDepends returns the operands of a task's depends, or none when it does
// not parse (start reports that error on the task's node).
func mustDepends(op *operation, t *v1alpha1.DAGTask) []expression.Operand {
	dep, err := op.dependsOf(t)
	if err != nil {
		return nil
	}
	return dep.Operands
}

// taskFrame is the frame of a task's node, with its template and arguments
// resolved on demand.
func (d *dagRun) taskFrame(t *v1alpha1.DAGTask) frame {
	return d.op.callFrame(d.f, taskID(d.f.id, t.Name), t.Template, t.TemplateRef, t.Arguments, d.sc, d.children, false)
}

// executeTask runs a task's node: a loop group or the task's template.
func (d *dagRun) executeTask(t *v1alpha1.DAGTask, f frame) *v1alpha1.NodeStatus {
	l := loopOf(t.WithItems, t.WithParam, t.WithSequence)
	if l == nil {
		return d.op.execute(f)
	}
	return d.op.execLoop(loopRun{
		group:      f,
		loop:       l,
		sc:         d.sc,
		when:       t.When,
		args:       t.Arguments,
		bound:      d.children,
		stopReason: d.stopReason,
	})
}

// start creates a task's node once its dependencies are settled: Omitted
// when its depends is false, Skipped when its when is false, else started.
func (d *dagRun) start(t *v1alpha1.DAGTask) *v1alpha1.NodeStatus {
	op := d.op
	id := taskID(d.f.id, t.Name)
	dep, err := op.dependsOf(t)
	if err != nil {
		return op.createFinal(id, v1alpha1.NodeError, err.Error())
	}
	for _, name := range dep.Tasks() {
		c, ok := op.node(taskID(d.f.id, name))
		if !ok || !c.Phase.Fulfilled() {
			return nil
		}
		if dt, ok := d.tasks[name]; ok && !op.hooksSettled(taskID(d.f.id, name), c, dt.Hooks, dt.OnExit) {
			return nil
		}
	}
	holds, err := dep.Eval(d.operand)
	if err != nil {
		return op.createFinal(id, v1alpha1.NodeError, err.Error())
	}
	if !holds {
		return op.createFinal(id, v1alpha1.NodeOmitted, "omitted: depends condition not met")
	}
	if d.stopReason != "" || !op.canStart(d.f) {
		return nil
	}
	f := d.taskFrame(t)
	if loopOf(t.WithItems, t.WithParam, t.WithSequence) == nil && t.When != "" {
		if skip, c := op.evalWhen(id, t.When, d.sc); skip {
			return c
		}
	}
	return d.executeTask(t, f)
}

// operand is the truth of one operand of a depends expression.
func (d *dagRun) operand(o expression.Operand) bool {
	op := d.op
	id := taskID(d.f.id, o.Task)
	c, ok := op.node(id)
	if !ok {
		return false
	}
	p := c.Phase
	switch o.Result {
	case expression.ResultBare:
		t := d.tasks[o.Task]
		return p == v1alpha1.NodeSucceeded || p == v1alpha1.NodeSkipped || (t != nil && continues(t.ContinueOn, p))
	case expression.ResultSucceeded:
		return p == v1alpha1.NodeSucceeded
	case expression.ResultFailed:
		return p == v1alpha1.NodeFailed
	case expression.ResultErrored:
		return p == v1alpha1.NodeError
	case expression.ResultSkipped:
		return p == v1alpha1.NodeSkipped
	case expression.ResultOmitted:
		return p == v1alpha1.NodeOmitted
	case expression.ResultDaemoned:
		return false
	case expression.ResultAnySucceeded, expression.ResultAllFailed:
		if c.Type != v1alpha1.NodeTypeTaskGroup {
			return false
		}
		items, succeeded, failed := 0, 0, 0
		for i := 0; ; i++ {
			item, ok := op.node(itemID(id, i))
			if !ok {
				break
			}
			items++
			switch item.Phase {
			case v1alpha1.NodeSucceeded:
				succeeded++
			case v1alpha1.NodeFailed:
				failed++
			}
		}
		if o.Result == expression.ResultAnySucceeded {
			return succeeded > 0
		}
		return items > 0 && failed == items
	}
	return false
}

// assess decides the DAG's phase once nothing in it runs.
func (d *dagRun) assess(n v1alpha1.NodeStatus) v1alpha1.NodeStatus {
	op := d.op
	allStarted := true
	for _, t := range d.order {
		id := taskID(d.f.id, t.Name)
		c, ok := op.node(id)
		if !ok {
			allStarted = false
			continue
		}
		if !c.Phase.Fulfilled() || !op.hooksSettled(id, c, t.Hooks, t.OnExit) {
			return n
		}
	}
	if !allStarted {
		if b, why := op.blocked(d.f); b {
			return op.fulfil(d.f.id, n, v1alpha1.NodeFailed, why)
		}
		if d.stopReason != "" {
			return op.fulfil(d.f.id, n, v1alpha1.NodeFailed, d.stopReason)
		}
		// Waiting for suspension to end or a slot to free.
		return n
	}

	branch := map[string]v1alpha1.NodePhase{}
	for _, t := range d.order {
		c, _ := op.node(taskID(d.f.id, t.Name))
		if c.Phase.Completed() {
			branch[t.Name] = c.Phase
			continue
		}
		// Skipped and Omitted tasks carry the outcome of the branch above them.
		p := v1alpha1.NodeSucceeded
		for _, o := range mustDepends(op, t) {
			switch branch[o.Task] {
			case v1alpha1.NodeError:
				p = v1alpha1.NodeError
			case v1alpha1.NodeFailed:
				if p != v1alpha1.NodeError {
					p = v1alpha1.NodeFailed
				}
			}
		}
		branch[t.Name] = p
	}
	for _, name := range d.targets() {
		p := branch[name]
		if p.FailedOrError() && !continues(d.tasks[name].ContinueOn, p) {
			return op.fulfil(d.f.id, n, p, fmt.Sprintf("child '%s' failed", taskID(d.f.id, name)))
		}
	}
	outs, err := op.templateOutputs(d.f.tmpl, d.sc)
	if err != nil {
		return op.fulfil(d.f.id, n, v1alpha1.NodeError, err.Error())
	}
	n.Outputs = outs
	op.publishGlobals(d.f.tmpl, outs)
	return op.fulfil(d.f.id, n, v1alpha1.NodeSucceeded, "")
}

// targets are dag.target, or every task no other task depends on.
func (d *dagRun) targets() []string {
	if d.dag.Target != "" {
		return strings.Fields(d.dag.Target)
	}
	return dagLeaves(d.op, d.dag)
}

func dagLeaves(op *operation, dag *v1alpha1.DAGTemplate) []string {
	hasDependent := map[string]bool{}
	for i := range dag.Tasks {
		for _, o := range mustDepends(op, &dag.Tasks[i]) {
			hasDependent[o.Task] = true
		}
	}
	var leaves []string
	for _, t := range dag.Tasks {
		if !hasDependent[t.Name] {
			leaves = append(leaves, t.Name)
		}
	}
	return leaves
}

// dagOrder is the topological order of the tasks the targets need, stable
// in spec order.
func (op *operation) dagOrder(dag *v1alpha1.DAGTemplate) ([]*v1alpha1.DAGTask, error) {
	if idx, ok := op.topoOrder[dag]; ok {
		out := make([]*v1alpha1.DAGTask, len(idx))
		for i, j := range idx {
			out[i] = &dag.Tasks[j]
		}
		return out, nil
	}
	index := map[string]int{}
	for i, t := range dag.Tasks {
		index[t.Name] = i
	}
	deps := make([][]int, len(dag.Tasks))
	for i := range dag.Tasks {
		d, err := op.dependsOf(&dag.Tasks[i])
		if err != nil {
			return nil, fmt.Errorf("task %s: %w", dag.Tasks[i].Name, err)
		}
		for _, name := range d.Tasks() {
			j, ok := index[name]
			if !ok {
				return nil, fmt.Errorf("task %s depends on %q, which is not a task of this dag", dag.Tasks[i].Name, name)
			}
			deps[i] = append(deps[i], j)
		}
	}
	targets := strings.Fields(dag.Target)
	if len(targets) == 0 {
		targets = dagLeaves(op, dag)
	}
	needed := make([]bool, len(dag.Tasks))
	var mark func(int)
	mark = func(i int) {
		if needed[i] {
			return
		}
		needed[i] = true
		for _, j := range deps[i] {
			mark(j)
		}
	}
	for _, name := range targets {
		i, ok := index[name]
		if !ok {
			return nil, fmt.Errorf("dag target %q is not a task", name)
		}
		mark(i)
	}
	// Kahn's algorithm, always taking the lowest spec index that is ready,
	// so that the order is stable.
	remaining := make([]int, len(dag.Tasks))
	dependents := make([][]int, len(dag.Tasks))
	ready := &intHeap{}
	for i := range dag.Tasks {
		remaining[i] = len(deps[i])
		for _, j := range deps[i] {
			dependents[j] = append(dependents[j], i)
		}
		if remaining[i] == 0 {
			heap.Push(ready, i)
		}
	}
	order := make([]int, 0, len(dag.Tasks))
	for ready.Len() > 0 {
		next := heap.Pop(ready).(int)
		order = append(order, next)
		for _, k := range dependents[next] {
			if remaining[k]--; remaining[k] == 0 {
				heap.Push(ready, k)
			}
		}
	}
	if len(order) < len(dag.Tasks) {
		return nil, fmt.Errorf("dag has a dependency cycle")
	}
	var idx []int
	for _, i := range order {
		if needed[i] {
			idx = append(idx, i)
		}
	}
	op.topoOrder[dag] = idx
	out := make([]*v1alpha1.DAGTask, len(idx))
	for i, j := range idx {
		out[i] = &dag.Tasks[j]
	}
	return out, nil
}

// createFinal records a node that is fulfilled the moment it is created:
// Omitted, Skipped, or an Error found before it could run.
func (op *operation) createFinal(id string, phase v1alpha1.NodePhase, message string) *v1alpha1.NodeStatus {
	n := op.newNode(phase, v1alpha1.NodeTypeSkipped, message)
	op.setNode(id, n)
	return &n
}

// evalWhen evaluates a when condition; skip is true when the node was
// created Skipped (false condition) or Error (bad condition).
func (op *operation) evalWhen(id, when string, sc *scope) (bool, *v1alpha1.NodeStatus) {
	// The tags' values are bound as literals, never pasted as code: a
	// value from an event must not run (issue 11). Over its budget, the
	// condition errors this node only.
	ok, cond, err := expression.WhenTags(when, op.resolver(sc))
	if err != nil {
		return true, op.createFinal(id, v1alpha1.NodeError, fmt.Sprintf("when %q: %v", when, err))
	}
	if !ok {
		return true, op.createFinal(id, v1alpha1.NodeSkipped, fmt.Sprintf("when '%s' evaluated false", cond))
	}
	return false, nil
}

// intHeap is a min-heap of task indexes.
type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
