package v1alpha1

import (
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

// validateHooks checks the hooks of the spec, a task or a step, and the
// onExit beside them; onExit runs with args (a task's or step's arguments,
// none for the spec).
func (v *specValidator) validateHooks(path *field.Path, hooks LifecycleHooks, onExit string, onExitPath *field.Path, args Arguments) field.ErrorList {
	var allErrs field.ErrorList
	if onExit != "" {
		allErrs = append(allErrs, v.checkTemplateName(onExitPath, onExit)...)
		allErrs = append(allErrs, v.checkSupplied(onExitPath, onExit, args)...)
	}
	for _, name := range hookNames(hooks) {
		h := hooks[name]
		hp := path.Key(name)
		allErrs = append(allErrs, validateNodeName(hp, name, "hook")...)
		allErrs = append(allErrs, validateHookExpression(hp, name, h.Expression)...)
		if name == ExitHookName && onExit != "" {
			allErrs = append(allErrs, field.Forbidden(hp,
				"onExit is set too and wins, so this hook would never run: keep one of them"))
		}
		allErrs = append(allErrs, v.validateCall(hp, h.Template, h.TemplateRef, h.Arguments)...)
	}
	return allErrs
}

// validateHookExpression checks the expression of a hook other than exit,
// which runs its template once the expression holds.
func validateHookExpression(path *field.Path, name, expr string) field.ErrorList {
	if name == ExitHookName {
		return nil
	}
	if expr == "" {
		return field.ErrorList{field.Required(path.Child("expression"),
			`a hook other than "exit" runs once its expression holds: set one, e.g. expression: workflow.status == "Running"`)}
	}
	if err := expression.Check(expr); err != nil {
		return field.ErrorList{field.Invalid(path.Child("expression"), expr, err.Error())}
	}
	return nil
}

// hookNames are the names of hooks, sorted so that errors come in a stable
// order.
func hookNames(hooks LifecycleHooks) []string {
	names := make([]string, 0, len(hooks))
	for name := range hooks {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
