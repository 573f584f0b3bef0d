package v1alpha1

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Template kinds, named as their fields.
const (
	kindDAG       = "dag"
	kindSteps     = "steps"
	kindFunction  = "function"
	kindContainer = "container"
	kindScript    = "script"
	kindHTTP      = "http"
	kindResource  = "resource"
	kindSuspend   = "suspend"
)

// templateKinds lists the kinds t sets, in field order.
func templateKinds(t *Template) []string {
	var kinds []string
	for _, k := range []struct {
		name string
		set  bool
	}{
		{kindDAG, t.DAG != nil},
		{kindSteps, t.Steps != nil},
		{kindFunction, t.Function != nil},
		{kindContainer, t.Container != nil},
		{kindScript, t.Script != nil},
		{kindHTTP, t.HTTP != nil},
		{kindResource, t.Resource != nil},
		{kindSuspend, t.Suspend != nil},
	} {
		if k.set {
			kinds = append(kinds, k.name)
		}
	}
	return kinds
}

// templateKind is the kind of t, or "" when it sets none or several (which
// validateTemplateKind reports).
func templateKind(t *Template) string {
	if kinds := templateKinds(t); len(kinds) == 1 {
		return kinds[0]
	}
	return ""
}

func (v *specValidator) validateTemplates() field.ErrorList {
	path := v.path.Child("templates")
	names := make([]string, len(v.spec.Templates))
	for i, t := range v.spec.Templates {
		names[i] = t.Name
	}
	allErrs := uniqueNames(names, func(i int) *field.Path { return path.Index(i).Child("name") }, "template", "rename one of them")
	for i := range v.spec.Templates {
		allErrs = append(allErrs, v.validateTemplate(&v.spec.Templates[i], path.Index(i))...)
	}
	return allErrs
}

func (v *specValidator) validateTemplate(t *Template, path *field.Path) field.ErrorList {
	allErrs := validateNodeName(path.Child("name"), t.Name, "template")
	allErrs = append(allErrs, validateTemplateKind(t, path)...)
	allErrs = append(allErrs, validateInputs(t.Inputs, path.Child("inputs"))...)
	allErrs = append(allErrs, validateOutputs(t, path.Child("outputs"))...)
	allErrs = append(allErrs, validateTemplateRetry(t, path)...)
	allErrs = append(allErrs, validateTimeout(path.Child("timeout"), t.Timeout)...)
	if t.Parallelism != nil && *t.Parallelism < 1 {
		allErrs = append(allErrs, field.Invalid(path.Child("parallelism"), *t.Parallelism,
			"must be at least 1: it is how many children may run at once (remove it for no limit)"))
	}
	allErrs = append(allErrs, validateLeaf(t, path)...)
	if t.DAG != nil {
		allErrs = append(allErrs, v.validateDAG(t, path)...)
	}
	if t.Steps != nil {
		allErrs = append(allErrs, v.validateSteps(t, path)...)
	}
	return append(allErrs, v.validateTemplateTags(t, path)...)
}

func validateTemplateKind(t *Template, path *field.Path) field.ErrorList {
	switch kinds := templateKinds(t); len(kinds) {
	case 0:
		return field.ErrorList{field.Required(path,
			"a template does one thing: set one of dag, steps, function, container, script, http, resource or suspend")}
	case 1:
		return nil
	default:
		return field.ErrorList{field.Forbidden(path, fmt.Sprintf(
			"sets %s, and a template does one thing: keep one of them and move the others to templates of their own",
			strings.Join(kinds, " and ")))}
	}
}

// validateTemplateRetry checks a template's retryStrategy. The engine
// retries leaf attempts only, so a strategy elsewhere would be ignored.
func validateTemplateRetry(t *Template, path *field.Path) field.ErrorList {
	if t.RetryStrategy == nil {
		return nil
	}
	rsPath := path.Child("retryStrategy")
	switch kind := templateKind(t); kind {
	case kindDAG, kindSteps:
		return field.ErrorList{field.Forbidden(rsPath, fmt.Sprintf(
			"retries apply to leaf templates (function, container, script, http or resource), and %q is a %s template: set retryStrategy on the templates it runs",
			t.Name, kind))}
	case kindSuspend:
		return field.ErrorList{field.Forbidden(rsPath, fmt.Sprintf(
			"retries apply to leaf templates (function, container, script, http or resource), and %q is a suspend template: remove retryStrategy",
			t.Name))}
	}
	return validateRetryStrategy(t.RetryStrategy, rsPath)
}

// validateTemplateTags checks the tags of a template's strings, except
// those of its tasks and steps, which validateDAG and validateSteps check
// with what each task or step can see.
func (v *specValidator) validateTemplateTags(t *Template, path *field.Path) field.ErrorList {
	sc := v.templateScope(t)
	rest := *t
	rest.DAG, rest.Steps, rest.Outputs, rest.Inputs = nil, nil, Outputs{}, Inputs{}
	allErrs := sc.checkStrings(rest, path)
	// An input's own value or default is resolved before the template
	// runs, from the global variables only (Argo substitutes the globals
	// first): it cannot name another input or the attempt.
	inputs := &tagScope{template: t.Name, workflowParams: v.workflowParams, inInputs: true}
	allErrs = append(allErrs, inputs.checkStrings(t.Inputs, path.Child("inputs"))...)
	outputs := *sc
	outputs.nodes = childRefs(t)
	return append(allErrs, outputs.checkStrings(t.Outputs, path.Child("outputs"))...)
}

// templateScope is what every string of t sees.
func (v *specValidator) templateScope(t *Template) *tagScope {
	inputs := make([]string, len(t.Inputs.Parameters))
	for i, p := range t.Inputs.Parameters {
		inputs[i] = p.Name
	}
	return &tagScope{template: t.Name, inputs: inputs, workflowParams: v.workflowParams, retries: t.IsLeaf()}
}

// childRefs are the tasks or steps of t, all visible (to t's outputs); nil
// for other templates.
func childRefs(t *Template) *nodeRefs {
	all := map[string]bool{}
	switch {
	case t.DAG != nil:
		for _, task := range t.DAG.Tasks {
			all[task.Name] = true
		}
		return &nodeRefs{prefix: "tasks", all: all}
	case t.Steps != nil:
		for _, group := range t.Steps {
			for _, s := range group {
				all[s.Name] = true
			}
		}
		return &nodeRefs{prefix: "steps", all: all}
	}
	return nil
}
