package v1alpha1

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateWorkflow validates a Workflow. spec.entrypoint is required unless
// spec.workflowTemplateRef is set.
func ValidateWorkflow(wf *Workflow) field.ErrorList {
	if wf == nil {
		return field.ErrorList{field.Required(field.NewPath("spec"), "a workflow needs a spec")}
	}
	return ValidateWorkflowSpec(&wf.Spec, field.NewPath("spec"), wf.Spec.WorkflowTemplateRef == nil)
}

// ValidateWorkflowTemplate validates a WorkflowTemplate (entrypoint
// optional: a library of templates is valid).
func ValidateWorkflowTemplate(wft *WorkflowTemplate) field.ErrorList {
	if wft == nil {
		return field.ErrorList{field.Required(field.NewPath("spec"), "a workflow template needs a spec")}
	}
	spec := field.NewPath("spec")
	allErrs := ValidateWorkflowSpec(&wft.Spec, spec, false)
	if wft.Spec.WorkflowTemplateRef != nil {
		allErrs = append(allErrs, field.Forbidden(spec.Child("workflowTemplateRef"),
			"a WorkflowTemplate cannot run another WorkflowTemplate: call its templates with templateRef instead"))
	}
	return allErrs
}

// ValidateWorkflowSpec validates a spec at fldPath.
//
// requireEntrypoint marks a spec that must run as written. Without
// spec.workflowTemplateRef such a spec is complete, so its argument
// parameters need values and every {{workflow.parameters.X}} must name one of
// them; a WorkflowTemplate's spec is not complete, since the workflows that
// run it supply arguments. With spec.workflowTemplateRef the referenced
// template supplies templates too, so names that are not defined here are
// not reported.
func ValidateWorkflowSpec(spec *WorkflowSpec, fldPath *field.Path, requireEntrypoint bool) field.ErrorList {
	if spec == nil {
		return field.ErrorList{field.Required(fldPath, "a spec is required")}
	}
	v := newSpecValidator(spec, fldPath, requireEntrypoint && spec.WorkflowTemplateRef == nil)
	var allErrs field.ErrorList
	allErrs = append(allErrs, v.validateEntrypoint(requireEntrypoint)...)
	allErrs = append(allErrs, v.validateWorkflowTemplateRef()...)
	allErrs = append(allErrs, validateArguments(spec.Arguments, fldPath.Child("arguments"), v.complete)...)
	allErrs = append(allErrs, v.validateExitHandlers()...)
	allErrs = append(allErrs, validateSpecLimits(spec, fldPath)...)
	allErrs = append(allErrs, v.validateTemplates()...)
	allErrs = append(allErrs, validateServiceAccountName(spec.ServiceAccountName, fldPath.Child("serviceAccountName"))...)
	for i := range spec.Templates {
		allErrs = append(allErrs, validateServiceAccountName(spec.Templates[i].ServiceAccountName, fldPath.Child("templates").Index(i).Child("serviceAccountName"))...)
	}
	return allErrs
}

// validateServiceAccountName checks a ServiceAccount's name as the API
// server checks one (a DNS-1123 subdomain), so that a typo fails in lint
// rather than as a refused impersonation when a step runs.
func validateServiceAccountName(name string, path *field.Path) field.ErrorList {
	if name == "" {
		return nil
	}
	var allErrs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(name) {
		allErrs = append(allErrs, field.Invalid(path, name, "a ServiceAccount name: "+msg))
	}
	return allErrs
}

// specValidator is what the checks of one spec share: the templates by
// name, and what may be left for a referenced WorkflowTemplate to supply.
type specValidator struct {
	spec *WorkflowSpec
	path *field.Path
	// templates maps a name to the first template of that name.
	templates map[string]*Template
	// external is set when spec.workflowTemplateRef may supply templates.
	external bool
	// complete is set when the spec runs as written (see ValidateWorkflowSpec).
	complete bool
	// workflowParams are the names {{workflow.parameters.X}} may use; nil
	// when they are not all known here.
	workflowParams map[string]bool
}

func newSpecValidator(spec *WorkflowSpec, path *field.Path, complete bool) *specValidator {
	v := &specValidator{
		spec:      spec,
		path:      path,
		templates: make(map[string]*Template, len(spec.Templates)),
		external:  spec.WorkflowTemplateRef != nil,
		complete:  complete,
	}
	for i := range spec.Templates {
		if _, dup := v.templates[spec.Templates[i].Name]; !dup {
			v.templates[spec.Templates[i].Name] = &spec.Templates[i]
		}
	}
	if complete {
		v.workflowParams = map[string]bool{}
		for _, p := range spec.Arguments.Parameters {
			v.workflowParams[p.Name] = true
		}
	}
	return v
}

// template returns the template called name when it is defined here.
func (v *specValidator) template(name string) (*Template, bool) {
	t, ok := v.templates[name]
	return t, ok
}

// checkTemplateName reports a template name that names no template. With
// workflowTemplateRef set the name may be defined by the referenced template.
func (v *specValidator) checkTemplateName(path *field.Path, name string) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(path, "name a template of spec.templates")}
	}
	if _, ok := v.templates[name]; ok || v.external {
		return nil
	}
	names := make([]string, 0, len(v.spec.Templates))
	for _, t := range v.spec.Templates {
		names = append(names, t.Name)
	}
	return field.ErrorList{notFound(path, name,
		fmt.Sprintf("no template is named %q: fix the name or add the template to spec.templates (templates: %s)", name, nameList(names)))}
}

func (v *specValidator) validateEntrypoint(required bool) field.ErrorList {
	path := v.path.Child("entrypoint")
	if v.spec.Entrypoint == "" {
		if required {
			return field.ErrorList{field.Required(path, "name the template that runs first, e.g. entrypoint: main")}
		}
		return nil
	}
	allErrs := v.checkTemplateName(path, v.spec.Entrypoint)
	if v.complete {
		// The engine binds spec.arguments to the entrypoint's inputs.
		allErrs = append(allErrs, v.checkSupplied(v.path.Child("arguments", "parameters"), v.spec.Entrypoint, v.spec.Arguments)...)
	}
	return allErrs
}

func (v *specValidator) validateWorkflowTemplateRef() field.ErrorList {
	if v.spec.WorkflowTemplateRef == nil || v.spec.WorkflowTemplateRef.Name != "" {
		return nil
	}
	return field.ErrorList{field.Required(v.path.Child("workflowTemplateRef", "name"), "name the WorkflowTemplate to run")}
}

// validateExitHandlers checks spec.onExit and spec.hooks, whose arguments
// see only the workflow's variables.
func (v *specValidator) validateExitHandlers() field.ErrorList {
	allErrs := v.validateHooks(v.path.Child("hooks"), v.spec.Hooks, v.spec.OnExit, v.path.Child("onExit"), Arguments{})
	sc := &tagScope{workflowParams: v.workflowParams}
	for _, name := range hookNames(v.spec.Hooks) {
		h := v.spec.Hooks[name]
		allErrs = append(allErrs, sc.checkStrings(h.Arguments, v.path.Child("hooks").Key(name).Child("arguments"))...)
	}
	return allErrs
}

// validateSpecLimits checks the numeric and enumerated fields of a spec.
func validateSpecLimits(spec *WorkflowSpec, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.Parallelism != nil && *spec.Parallelism < 1 {
		allErrs = append(allErrs, field.Invalid(path.Child("parallelism"), *spec.Parallelism,
			"must be at least 1: it is how many leaf nodes may run at once (remove it for no limit)"))
	}
	if spec.ActiveDeadlineSeconds != nil && *spec.ActiveDeadlineSeconds < 0 {
		allErrs = append(allErrs, field.Invalid(path.Child("activeDeadlineSeconds"), *spec.ActiveDeadlineSeconds,
			"must be 0 or more seconds"))
	}
	if spec.Shutdown != "" && spec.Shutdown != ShutdownStop && spec.Shutdown != ShutdownTerminate {
		allErrs = append(allErrs, field.NotSupported(path.Child("shutdown"), string(spec.Shutdown),
			[]ShutdownStrategy{ShutdownStop, ShutdownTerminate}))
	}
	if spec.RetryStrategy != nil {
		allErrs = append(allErrs, validateRetryStrategy(spec.RetryStrategy, path.Child("retryStrategy"))...)
	}
	if ttl := spec.TTLStrategy; ttl != nil {
		ttlPath := path.Child("ttlStrategy")
		for _, s := range []struct {
			name  string
			value *int32
		}{
			{"secondsAfterCompletion", ttl.SecondsAfterCompletion},
			{"secondsAfterSuccess", ttl.SecondsAfterSuccess},
			{"secondsAfterFailure", ttl.SecondsAfterFailure},
		} {
			if s.value != nil && *s.value < 0 {
				allErrs = append(allErrs, field.Invalid(ttlPath.Child(s.name), *s.value, "must be 0 or more seconds"))
			}
		}
	}
	return allErrs
}

// notFound is field.NotFound with a detail, which NotFound cannot take.
func notFound(path *field.Path, value any, detail string) *field.Error {
	e := field.NotFound(path, value)
	e.Detail = detail
	return e
}

// duplicate is field.Duplicate with a detail.
func duplicate(path *field.Path, value any, detail string) *field.Error {
	e := field.Duplicate(path, value)
	e.Detail = detail
	return e
}

// maxListedNames bounds the names a message lists, so that a typo in a
// 500-template workflow gives a readable message.
const maxListedNames = 10

// nameList joins names for a message, sorted, with at most maxListedNames.
func nameList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	if len(sorted) > maxListedNames {
		return strings.Join(sorted[:maxListedNames], ", ") + fmt.Sprintf(", … (%d more)", len(sorted)-maxListedNames)
	}
	return strings.Join(sorted, ", ")
}
