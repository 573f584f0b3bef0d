package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/interpolate"
)

// bindInputs gives each declared input its value: the argument of the same
// name, else the input's own value or default. An argument arrives resolved
// in its caller's scope; a value or default written on the template has its
// global tags ({{workflow.parameters.X}}, {{workflow.name}}, …) resolved
// here, before the template runs, because Argo substitutes the globals into
// a template before its inputs (common.SubstituteParams). Only the globals:
// an input's value cannot name another input, as in Argo.
func (op *operation) bindInputs(tmpl *v1alpha1.Template, args v1alpha1.Arguments) (resolvedInputs, error) {
	in := resolvedInputs{params: make(map[string]string, len(tmpl.Inputs.Parameters))}
	for _, p := range tmpl.Inputs.Parameters {
		v, ok := argumentValue(args.Parameters, p.Name)
		if !ok {
			switch {
			case p.Value != nil:
				v, ok = string(*p.Value), true
			case p.Default != nil:
				v, ok = string(*p.Default), true
			case p.ValueFrom != nil && p.ValueFrom.Default != nil:
				v, ok = string(*p.ValueFrom.Default), true
			}
			if ok && interpolate.Has(v) {
				var err error
				if v, err = op.substituteString(v, op.globalScope()); err != nil {
					return in, fmt.Errorf("inputs.parameters.%s: %w", p.Name, err)
				}
			}
		}
		if !ok {
			return in, fmt.Errorf("inputs.parameters.%s was not supplied", p.Name)
		}
		if len(p.Enum) > 0 && !slices.Contains(p.Enum, v1alpha1.AnyString(v)) {
			return in, fmt.Errorf("inputs.parameters.%s: %q is not one of %v", p.Name, v, p.Enum)
		}
		in.params[p.Name] = v
	}
	for _, a := range tmpl.Inputs.Artifacts {
		key := ""
		for _, arg := range args.Artifacts {
			if arg.Name == a.Name {
				key = arg.Key
				if key == "" {
					key = arg.From
				}
			}
		}
		if key == "" {
			key = a.Key
		}
		if key == "" {
			if a.Optional {
				continue
			}
			return in, fmt.Errorf("inputs.artifacts.%s was not supplied", a.Name)
		}
		if in.artifacts == nil {
			in.artifacts = map[string]string{}
		}
		in.artifacts[a.Name] = key
	}
	return in, nil
}

func argumentValue(params []v1alpha1.Parameter, name string) (string, bool) {
	for _, p := range params {
		if p.Name != name {
			continue
		}
		if p.Value != nil {
			return string(*p.Value), true
		}
		if p.ValueFrom != nil && p.ValueFrom.Default != nil {
			return string(*p.ValueFrom.Default), true
		}
	}
	return "", false
}

// substituteArguments resolves the tags of a task's or hook's arguments.
func (op *operation) substituteArguments(args v1alpha1.Arguments, s *scope) (v1alpha1.Arguments, error) {
	out := v1alpha1.Arguments{}
	resolve := op.resolver(s)
	for _, p := range args.Parameters {
		if p.Value != nil {
			v, err := interpolate.String(string(*p.Value), resolve)
			if err != nil {
				return out, fmt.Errorf("arguments.parameters.%s: %w", p.Name, err)
			}
			p.Value = v1alpha1.ParseAnyString(v)
		}
		out.Parameters = append(out.Parameters, p)
	}
	for _, a := range args.Artifacts {
		if a.From != "" {
			v, err := interpolate.String(a.From, resolve)
			if err != nil {
				return out, fmt.Errorf("arguments.artifacts.%s: %w", a.Name, err)
			}
			if strings.Contains(v, "{{") {
				return out, fmt.Errorf("arguments.artifacts.%s: cannot resolve %s", a.Name, a.From)
			}
			a.Key, a.From = v, ""
		}
		out.Artifacts = append(out.Artifacts, a)
	}
	return out, nil
}
