package engine

import (
	"sort"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

func exitID(parentID string) string { return parentID + ".onExit" }

func hookID(parentID, name string) string { return parentID + ".hooks." + name }

// exitHookOf is a task's or step's exit hook: onExit (with the task's
// arguments) wins over hooks.exit, as in Argo.
func exitHookOf(hooks v1alpha1.LifecycleHooks, onExit string, args v1alpha1.Arguments) (v1alpha1.LifecycleHook, bool) {
	if onExit != "" {
		return v1alpha1.LifecycleHook{Template: onExit, Arguments: args}, true
	}
	h, ok := hooks[v1alpha1.ExitHookName]
	return h, ok
}

func sortedHookNames(hooks v1alpha1.LifecycleHooks) []string {
	names := make([]string, 0, len(hooks))
	for name := range hooks {
		if name != v1alpha1.ExitHookName {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// runHooks starts or advances the hooks of node id: each expression hook
// once its expression holds, and the exit hook once the node completed.
// Hooks never change their parent's phase; dependents wait for them.
func (op *operation) runHooks(parent frame, id string, n v1alpha1.NodeStatus, hooks v1alpha1.LifecycleHooks, onExit string, args v1alpha1.Arguments, sc *scope) {
	if n.Phase == v1alpha1.NodeSkipped || n.Phase == v1alpha1.NodeOmitted {
		return
	}
	for _, name := range sortedHookNames(hooks) {
		h := hooks[name]
		hid := hookID(id, name)
		if _, ok := op.node(hid); !ok {
			holds, err := expression.EvalBool(h.Expression, expression.Expand(sc.flatten()))
			if err != nil {
				op.createFinal(hid, v1alpha1.NodeError, "hook "+name+": "+err.Error())
				continue
			}
			if !holds {
				continue
			}
		}
		op.execHook(parent, hid, h, sc, false)
	}
	if !n.Phase.Completed() {
		return
	}
	if h, ok := exitHookOf(hooks, onExit, args); ok {
		op.execHook(parent, exitID(id), h, sc, true)
	}
}

// execHook creates or advances one hook node.
func (op *operation) execHook(parent frame, hid string, h v1alpha1.LifecycleHook, sc *scope, exit bool) *v1alpha1.NodeStatus {
	return op.execute(op.callFrame(parent, hid, h.Template, h.TemplateRef, h.Arguments, sc, nil, exit))
}

// hooksSettled reports whether every hook of node id that started (or must
// start) is fulfilled.
func (op *operation) hooksSettled(id string, n v1alpha1.NodeStatus, hooks v1alpha1.LifecycleHooks, onExit string) bool {
	for _, name := range sortedHookNames(hooks) {
		if h, ok := op.node(hookID(id, name)); ok && !h.Phase.Fulfilled() {
			return false
		}
	}
	if !n.Phase.Completed() {
		return true
	}
	if _, ok := exitHookOf(hooks, onExit, v1alpha1.Arguments{}); !ok {
		return true
	}
	h, ok := op.node(exitID(id))
	if !ok {
		// Terminate never starts exit hooks; anything else will start it.
		return op.shutdown == v1alpha1.ShutdownTerminate
	}
	return h.Phase.Fulfilled()
}

// workflowExitHook is spec.onExit, or spec.hooks.exit.
func (op *operation) workflowExitHook() (v1alpha1.LifecycleHook, bool) {
	if op.spec.OnExit != "" {
		return v1alpha1.LifecycleHook{Template: op.spec.OnExit}, true
	}
	h, ok := op.spec.Hooks[v1alpha1.ExitHookName]
	return h, ok
}

// exitHandler runs the workflow's exit handler once the entrypoint is
// fulfilled. done is true when there is nothing more to wait for.
func (op *operation) exitHandler(rootID string, root *v1alpha1.NodeStatus) (done bool, node *v1alpha1.NodeStatus) {
	h, ok := op.workflowExitHook()
	if !ok {
		return true, nil
	}
	id := exitID(rootID)
	if _, exists := op.node(id); !exists && op.shutdown == v1alpha1.ShutdownTerminate {
		return true, nil
	}
	op.globals["workflow.status"] = string(workflowPhaseOf(root.Phase))
	op.globals["workflow.failures"] = op.failuresJSON()
	n := op.execHook(frame{}, id, h, op.globalScope(), true)
	if n == nil {
		return false, nil
	}
	return n.Phase.Fulfilled(), n
}

// workflowHooks runs spec.hooks other than exit: each starts once its
// expression over the globals (workflow.status among them) holds.
func (op *operation) workflowHooks(rootID string, root *v1alpha1.NodeStatus) {
	if len(op.spec.Hooks) == 0 {
		return
	}
	phase := v1alpha1.WorkflowRunning
	if root != nil && root.Phase.Fulfilled() {
		phase = workflowPhaseOf(root.Phase)
	}
	op.globals["workflow.status"] = string(phase)
	sc := op.globalScope()
	for _, name := range sortedHookNames(op.spec.Hooks) {
		h := op.spec.Hooks[name]
		hid := hookID(rootID, name)
		if _, ok := op.node(hid); !ok {
			holds, err := expression.EvalBool(h.Expression, expression.Expand(op.globals))
			if err != nil {
				op.createFinal(hid, v1alpha1.NodeError, "hook "+name+": "+err.Error())
				continue
			}
			if !holds || !op.canStart(frame{}) {
				continue
			}
		}
		op.execHook(frame{}, hid, h, sc, false)
	}
}

func (op *operation) workflowHooksSettled(rootID string) bool {
	for _, name := range sortedHookNames(op.spec.Hooks) {
		if n, ok := op.node(hookID(rootID, name)); ok && !n.Phase.Fulfilled() {
			return false
		}
	}
	return true
}
