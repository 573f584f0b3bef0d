package v1alpha1

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateCall checks what tasks, steps and hooks share: they call a
// template, by name or through templateRef, with arguments.
func (v *specValidator) validateCall(path *field.Path, template string, ref *TemplateRef, args Arguments) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case template != "" && ref != nil:
		allErrs = append(allErrs, field.Forbidden(path.Child("templateRef"),
			"set template (a template of this spec) or templateRef (a template of a WorkflowTemplate), not both"))
	case template == "" && ref == nil:
		allErrs = append(allErrs, field.Required(path.Child("template"),
			"set template (a template of this spec) or templateRef (a template of a WorkflowTemplate)"))
	case ref != nil:
		allErrs = append(allErrs, validateTemplateRef(ref, path.Child("templateRef"))...)
	default:
		allErrs = append(allErrs, v.checkTemplateName(path.Child("template"), template)...)
		allErrs = append(allErrs, v.checkSupplied(path.Child("arguments", "parameters"), template, args)...)
	}
	return append(allErrs, validateArguments(args, path.Child("arguments"), true)...)
}

func validateTemplateRef(ref *TemplateRef, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if ref.Name == "" {
		allErrs = append(allErrs, field.Required(path.Child("name"), "name the WorkflowTemplate that holds the template"))
	}
	if ref.Template == "" {
		allErrs = append(allErrs, field.Required(path.Child("template"), "name the template inside the WorkflowTemplate"))
	}
	return allErrs
}

// checkSupplied reports each input parameter of template name that has no
// default and that args do not pass: the engine would fail the node as it
// starts. A template not defined here is not checked.
func (v *specValidator) checkSupplied(path *field.Path, name string, args Arguments) field.ErrorList {
	t, ok := v.template(name)
	if !ok {
		return nil
	}
	var allErrs field.ErrorList
	for _, in := range t.Inputs.Parameters {
		if hasDefault(in) || slices.ContainsFunc(args.Parameters, func(p Parameter) bool { return p.Name == in.Name }) {
			continue
		}
		allErrs = append(allErrs, field.Required(path, fmt.Sprintf(
			"template %q needs input parameter %q, which has no default: pass it as an argument, e.g. {name: %s, value: ...}, or give the input a default",
			name, in.Name, in.Name)))
	}
	return allErrs
}

// hasDefault reports whether an input has a value of its own.
func hasDefault(p Parameter) bool {
	return p.Value != nil || p.Default != nil || (p.ValueFrom != nil && p.ValueFrom.Default != nil)
}

// childFields are the parts of a task or step whose tags see different
// variables.
type childFields struct {
	// call is the task or step without its hooks and loop.
	call         any
	hooks        LifecycleHooks
	withParam    string
	withSequence *Sequence
}

// checkChildTags checks the tags of a task or step at path; fields is what
// its own fields see. Only its arguments and when see the loop item: the
// loop is expanded before any item exists, and hooks run in the scope of
// the dag or steps. hooksHidden is nodeRefs.hidden for the hooks, which also
// see the task or step they belong to.
func checkChildTags(fields *tagScope, loops bool, c childFields, hooksHidden func(string) string, path *field.Path) field.ErrorList {
	call := *fields
	call.item = loops
	allErrs := call.checkStrings(c.call, path)
	allErrs = append(allErrs, fields.checkStrings(c.withParam, path.Child("withParam"))...)
	allErrs = append(allErrs, fields.checkStrings(c.withSequence, path.Child("withSequence"))...)
	hooks := *fields
	hooks.nodes = &nodeRefs{prefix: fields.nodes.prefix, all: fields.nodes.all, hidden: hooksHidden}
	return append(allErrs, hooks.checkStrings(c.hooks, path.Child("hooks"))...)
}
