package v1alpha1

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

// validateDAG checks the dag of template t, which is at path.
func (v *specValidator) validateDAG(t *Template, path *field.Path) field.ErrorList {
	dagPath := path.Child("dag")
	tasksPath := dagPath.Child("tasks")
	if len(t.DAG.Tasks) == 0 {
		return field.ErrorList{field.Required(tasksPath, "a dag needs at least one task")}
	}
	g := newDAGGraph(t.DAG.Tasks)
	allErrs := validateChildNames(g.names(), func(i int) *field.Path { return tasksPath.Index(i).Child("name") }, "task")
	for i := range g.tasks {
		allErrs = append(allErrs, v.validateTask(g, i, tasksPath.Index(i))...)
	}
	allErrs = append(allErrs, validateDependsStyle(g.tasks, tasksPath)...)
	if c := g.cycle(); c != nil {
		allErrs = append(allErrs, field.Invalid(tasksPath, strings.Join(c, " -> "),
			"dependency cycle: each task waits for the next, so none of them can start; remove one of these dependencies"))
	}
	allErrs = append(allErrs, validateTarget(t.DAG.Target, g, dagPath.Child("target"))...)
	return append(allErrs, v.validateTaskTags(t, g, tasksPath)...)
}

// validateChildNames checks the names of the tasks of a dag or the steps of
// a steps template: valid, not reserved, unique.
func validateChildNames(names []string, at func(i int) *field.Path, what string) field.ErrorList {
	var allErrs field.ErrorList
	for i, name := range names {
		allErrs = append(allErrs, validateChildName(at(i), name, what)...)
	}
	return append(allErrs, uniqueNames(names, at, what, "rename one of them")...)
}

func (v *specValidator) validateTask(g *dagGraph, i int, path *field.Path) field.ErrorList {
	t := &g.tasks[i]
	allErrs := v.validateCall(path, t.Template, t.TemplateRef, t.Arguments)
	allErrs = append(allErrs, validateDependencies(g, i, path.Child("dependencies"))...)
	allErrs = append(allErrs, validateDepends(g, i, path.Child("depends"))...)
	allErrs = append(allErrs, validateLoop(path, t.WithItems, t.WithParam, t.WithSequence)...)
	allErrs = append(allErrs, validateWhen(path.Child("when"), t.When)...)
	return append(allErrs, v.validateHooks(path.Child("hooks"), t.Hooks, t.OnExit, path.Child("onExit"), t.Arguments)...)
}

func validateDependencies(g *dagGraph, i int, path *field.Path) field.ErrorList {
	t := &g.tasks[i]
	var allErrs field.ErrorList
	for j, dep := range t.Dependencies {
		switch _, ok := g.index[dep]; {
		case dep == t.Name:
			allErrs = append(allErrs, field.Invalid(path.Index(j), dep, "a task cannot depend on itself: remove it"))
		case !ok:
			allErrs = append(allErrs, notFound(path.Index(j), dep, fmt.Sprintf(
				"dependencies must name tasks of this dag: fix the name (tasks: %s)", nameList(g.names()))))
		}
	}
	return append(allErrs, uniqueNames(t.Dependencies, path.Index, "dependency", "remove the repeat")...)
}

func validateDepends(g *dagGraph, i int, path *field.Path) field.ErrorList {
	t := &g.tasks[i]
	if t.Depends == "" {
		return nil
	}
	d, err := expression.ParseDepends(t.Depends)
	if err != nil {
		return field.ErrorList{field.Invalid(path, t.Depends, dependsProblem(t.Depends, err)+
			`: write task names joined by &&, || and !, e.g. A && (B.Failed || C.Skipped)`)}
	}
	var allErrs field.ErrorList
	seen := map[expression.Operand]bool{}
	for _, op := range d.Operands {
		if seen[op] {
			continue
		}
		seen[op] = true
		if e := checkOperand(g, t, op, path); e != nil {
			allErrs = append(allErrs, e)
		}
	}
	return allErrs
}

// dependsProblem words a ParseDepends error. When expr rejected the
// expression (a wrapped error), its message shows the slots ParseDepends
// compiles operands to, not what the user wrote, so it is left out.
func dependsProblem(depends string, err error) string {
	if errors.Unwrap(err) != nil {
		return fmt.Sprintf("depends %q is not a valid boolean expression", depends)
	}
	return err.Error()
}

// checkOperand checks one "task" or "task.Result" of t's depends.
func checkOperand(g *dagGraph, t *DAGTask, op expression.Operand, path *field.Path) *field.Error {
	j, ok := g.index[op.Task]
	switch {
	case op.Task == t.Name:
		return field.Invalid(path, t.Depends, fmt.Sprintf("a task cannot depend on itself: remove %s", op))
	case !ok:
		return notFound(path, op.Task, fmt.Sprintf(
			"depends names %q, which is not a task of this dag: fix the name (tasks: %s)", op.Task, nameList(g.names())))
	case op.Result == expression.ResultAnySucceeded || op.Result == expression.ResultAllFailed:
		dep := &g.tasks[j]
		if !hasLoop(dep.WithItems, dep.WithParam, dep.WithSequence) {
			return field.Invalid(path, t.Depends, fmt.Sprintf(
				"%s needs task %s to loop (withItems, withParam or withSequence): for a task that runs once, use %s.Succeeded or %s.Failed",
				op, op.Task, op.Task, op.Task))
		}
	}
	return nil
}

// validateDependsStyle applies Argo's rule that a dag using depends uses it
// throughout: depends says for each dependency which results it accepts,
// which dependencies and continueOn would contradict.
func validateDependsStyle(tasks []DAGTask, path *field.Path) field.ErrorList {
	user := -1
	for i, t := range tasks {
		if t.Depends != "" {
			user = i
			break
		}
	}
	if user < 0 {
		return nil
	}
	var allErrs field.ErrorList
	for i, t := range tasks {
		who := fmt.Sprintf("task %q of this dag uses depends", tasks[user].Name)
		if t.Depends != "" {
			who = "this task sets depends too"
		}
		if len(t.Dependencies) > 0 {
			allErrs = append(allErrs, field.Forbidden(path.Index(i).Child("dependencies"), fmt.Sprintf(
				"%s, and a dag uses either depends or dependencies: write these as depends (%s)", who, strings.Join(t.Dependencies, " && "))))
		}
		if t.ContinueOn != nil {
			allErrs = append(allErrs, field.Forbidden(path.Index(i).Child("continueOn"), fmt.Sprintf(
				"%s, which replaces continueOn: use '%s.Failed' / '%s.Errored' in depends instead, e.g. depends: %s.Succeeded || %s.Failed",
				who, t.Name, t.Name, t.Name, t.Name)))
		}
	}
	return allErrs
}

func validateTarget(target string, g *dagGraph, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, name := range strings.Fields(target) {
		if _, ok := g.index[name]; !ok {
			allErrs = append(allErrs, notFound(path, name, fmt.Sprintf(
				"target names tasks of this dag, separated by spaces: fix the name (tasks: %s)", nameList(g.names()))))
		}
	}
	return allErrs
}

// validateTaskTags checks the tags of each task's fields. A task sees the
// tasks it waits for, directly or through others: the engine resolves
// {{tasks.X...}} from X's node, which only they are sure to have.
func (v *specValidator) validateTaskTags(t *Template, g *dagGraph, path *field.Path) field.ErrorList {
	base := v.templateScope(t)
	all := childRefs(t).all
	var allErrs field.ErrorList
	for i, task := range g.tasks {
		fields := *base
		fields.nodes = &nodeRefs{prefix: "tasks", all: all, hidden: g.hiddenFrom(i, false)}
		allErrs = append(allErrs, checkChildTags(&fields, hasLoop(task.WithItems, task.WithParam, task.WithSequence),
			childFields{call: taskCall(task), hooks: task.Hooks, withParam: task.WithParam, withSequence: task.WithSequence},
			g.hiddenFrom(i, true), path.Index(i))...)
	}
	return allErrs
}

// hiddenFrom is nodeRefs.hidden for the fields of task i, which see its
// ancestors; self lets them see task i too, as its hooks do.
func (g *dagGraph) hiddenFrom(i int, self bool) func(string) string {
	var ancestors map[string]bool
	me := g.tasks[i].Name
	return func(name string) string {
		if ancestors == nil {
			ancestors = g.ancestors(i)
		}
		switch {
		case ancestors[name], self && name == me:
			return ""
		case name == me:
			return fmt.Sprintf("task %s cannot use its own outputs in its own fields, which are resolved before it runs: use them in its hooks or in a task that depends on it", me)
		}
		return fmt.Sprintf("tasks.%s is not a dependency of task %s: add %s to its depends (or dependencies), since a task only sees the tasks it waits for, directly or through others",
			name, me, name)
	}
}

// taskCall is the part of a task whose tags see the loop item.
func taskCall(t DAGTask) DAGTask {
	t.Hooks, t.WithParam, t.WithSequence = nil, "", nil
	return t
}
