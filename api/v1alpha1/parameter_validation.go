package v1alpha1

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/zeroflow-dev/zeroflow/internal/expression"
	"github.com/zeroflow-dev/zeroflow/internal/interpolate"
)

// validateArguments checks the parameters and artifacts passed to a
// template or to the workflow. requireValue is set where nothing else can
// supply a value later.
func validateArguments(args Arguments, path *field.Path, requireValue bool) field.ErrorList {
	paramsPath := path.Child("parameters")
	allErrs := validateParameterNames(args.Parameters, paramsPath)
	for i, p := range args.Parameters {
		pp := paramsPath.Index(i)
		allErrs = append(allErrs, validateInputValueFrom(p, pp)...)
		switch {
		case p.Default != nil && p.Value == nil:
			// The engine reads only value and valueFrom.default of an
			// argument, so a default would be silently dropped.
			allErrs = append(allErrs, field.Invalid(pp.Child("default"), string(*p.Default),
				fmt.Sprintf("arguments take value, not default: write value: %q (a workflow can still override it)", string(*p.Default))))
		case p.ValueRef != nil && p.Value != nil:
			allErrs = append(allErrs, field.Invalid(pp.Child("valueRef"), p.ValueRef.Key,
				"set value or valueRef, not both (valueRef names a value offloaded to the artifact store)"))
		case requireValue && p.Value == nil && p.ValueRef == nil && (p.ValueFrom == nil || p.ValueFrom.Default == nil):
			allErrs = append(allErrs, field.Required(pp.Child("value"),
				fmt.Sprintf("argument %q has no value: set value (or valueFrom.default)", p.Name)))
		}
		if p.Value != nil {
			allErrs = append(allErrs, checkEnum(pp.Child("value"), string(*p.Value), p.Enum)...)
		}
	}
	allErrs = append(allErrs, validateArtifactNames(args.Artifacts, path.Child("artifacts"))...)
	return append(allErrs, validateArtifactSources(args.Artifacts, path.Child("artifacts"))...)
}

// validateInputs checks a template's inputs.
func validateInputs(in Inputs, path *field.Path) field.ErrorList {
	paramsPath := path.Child("parameters")
	allErrs := validateParameterNames(in.Parameters, paramsPath)
	for i, p := range in.Parameters {
		pp := paramsPath.Index(i)
		allErrs = append(allErrs, validateInputValueFrom(p, pp)...)
		if p.Value != nil {
			allErrs = append(allErrs, checkEnum(pp.Child("value"), string(*p.Value), p.Enum)...)
		}
		if p.Default != nil {
			allErrs = append(allErrs, checkEnum(pp.Child("default"), string(*p.Default), p.Enum)...)
		}
	}
	allErrs = append(allErrs, validateArtifactNames(in.Artifacts, path.Child("artifacts"))...)
	return append(allErrs, validateArtifactSources(in.Artifacts, path.Child("artifacts"))...)
}

// validateOutputs checks a template's outputs.
func validateOutputs(t *Template, path *field.Path) field.ErrorList {
	paramsPath := path.Child("parameters")
	allErrs := validateParameterNames(t.Outputs.Parameters, paramsPath)
	for i, p := range t.Outputs.Parameters {
		allErrs = append(allErrs, validateOutputParameter(t, p, paramsPath.Index(i))...)
	}
	allErrs = append(allErrs, validateArtifactNames(t.Outputs.Artifacts, path.Child("artifacts"))...)
	return append(allErrs, validateArtifactSources(t.Outputs.Artifacts, path.Child("artifacts"))...)
}

func validateParameterNames(params []Parameter, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.Name
		allErrs = append(allErrs, validateParamName(path.Index(i).Child("name"), p.Name)...)
	}
	return append(allErrs, uniqueNames(names, func(i int) *field.Path { return path.Index(i).Child("name") }, "parameter", "rename one of them")...)
}

func validateArtifactNames(artifacts []Artifact, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := make([]string, len(artifacts))
	for i, a := range artifacts {
		names[i] = a.Name
		allErrs = append(allErrs, validateParamName(path.Index(i).Child("name"), a.Name)...)
	}
	return append(allErrs, uniqueNames(names, func(i int) *field.Path { return path.Index(i).Child("name") }, "artifact", "rename one of them")...)
}

// checkEnum reports a value outside enum. A value with tags is only known
// at run time, where the engine checks it.
func checkEnum(path *field.Path, value string, enum []AnyString) field.ErrorList {
	if len(enum) == 0 || interpolate.Has(value) || slices.Contains(enum, AnyString(value)) {
		return nil
	}
	return field.ErrorList{field.NotSupported(path, value, enum)}
}

// valueSource is one source of ValueFrom and the template kinds it works in.
type valueSource struct {
	name  string
	set   bool
	kinds []string
	// needs says what the source needs, for messages.
	needs string
}

func valueSources(vf *ValueFrom) []valueSource {
	return []valueSource{
		{"path", vf.Path != "", []string{kindContainer, kindScript}, "a container or script template (it is a file the command writes)"},
		{"jsonPath", vf.JSONPath != "", []string{kindResource}, "a resource template (it selects from the object)"},
		{"expression", vf.Expression != "", []string{kindDAG, kindSteps}, "a dag or steps template (it is evaluated when they finish)"},
		{"parameter", vf.Parameter != "", []string{kindDAG, kindSteps}, "a dag or steps template (it is resolved when they finish)"},
		{"supplied", vf.Supplied != nil, []string{kindSuspend}, "a suspend template (`zeroflow resume` supplies it)"},
	}
}

// validateInputValueFrom reports valueFrom sources on an input or argument:
// only valueFrom.default means something there.
func validateInputValueFrom(p Parameter, path *field.Path) field.ErrorList {
	if p.ValueFrom == nil {
		return nil
	}
	var allErrs field.ErrorList
	for _, s := range valueSources(p.ValueFrom) {
		if s.set {
			allErrs = append(allErrs, field.Forbidden(path.Child("valueFrom", s.name), fmt.Sprintf(
				"valueFrom.%s computes an output; an input or argument takes value, default or valueFrom.default", s.name)))
		}
	}
	return allErrs
}

func validateOutputParameter(t *Template, p Parameter, path *field.Path) field.ErrorList {
	kind := templateKind(t)
	composite := kind == kindDAG || kind == kindSteps
	vfPath := path.Child("valueFrom")
	if p.ValueFrom == nil {
		if composite && p.Value == nil {
			return field.ErrorList{field.Required(vfPath, fmt.Sprintf(
				"output %q of a %s template is computed when it finishes: set valueFrom.parameter, valueFrom.expression or value", p.Name, kind))}
		}
		return nil
	}
	var set []string
	var allErrs field.ErrorList
	for _, s := range valueSources(p.ValueFrom) {
		if !s.set {
			continue
		}
		set = append(set, s.name)
		if kind != "" && !slices.Contains(s.kinds, kind) {
			allErrs = append(allErrs, field.Forbidden(vfPath.Child(s.name), fmt.Sprintf(
				"valueFrom.%s needs %s, and %q is a %s template", s.name, s.needs, t.Name, kind)))
		}
	}
	switch {
	case len(set) > 1:
		allErrs = append(allErrs, field.Forbidden(vfPath, fmt.Sprintf(
			"sets %s: set only one source (default may accompany it)", strings.Join(set, " and "))))
	case len(set) == 0 && p.ValueFrom.Default == nil:
		allErrs = append(allErrs, field.Required(vfPath,
			"set one of path, jsonPath, expression, parameter or supplied (with an optional default), or remove valueFrom"))
	}
	if e := p.ValueFrom.Expression; e != "" {
		if err := expression.Check(e); err != nil {
			allErrs = append(allErrs, field.Invalid(vfPath.Child("expression"), e, err.Error()))
		}
	}
	return allErrs
}
