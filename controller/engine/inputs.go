package engine

import (
	"fmt"
	"slices"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/interpolate"
)

// callArgs are a call's arguments with their tags resolved, and why each
// artifact argument that resolved to nothing is absent (its producer was
// skipped, or did not produce it).
type callArgs struct {
	v1alpha1.Arguments
	absent map[string]string
}

// bindInputs gives each declared input its value: the argument of the same
// name, else the input's own value or default. An argument arrives resolved
// in its caller's scope; a value or default written on the template has its
// global tags ({{workflow.parameters.X}}, {{workflow.name}}, …) resolved
// here, before the template runs, because Argo substitutes the globals into
// a template before its inputs (common.SubstituteParams). Only the globals:
// an input's value cannot name another input, as in Argo.
func (op *operation) bindInputs(tmpl *v1alpha1.Template, args callArgs) (resolvedInputs, error) {
	in := resolvedInputs{params: make(map[string]string, len(tmpl.Inputs.Parameters))}
	for _, p := range tmpl.Inputs.Parameters {
		v, ref, ok := argumentValue(args.Parameters, p.Name)
		if !ok {
			switch {
			case p.ValueRef != nil:
				v, ref, ok = "", p.ValueRef, true
			case p.Value != nil:
				v, ok = string(*p.Value), true
			case p.Default != nil:
				v, ok = string(*p.Default), true
			case p.ValueFrom != nil && p.ValueFrom.Default != nil:
				v, ok = string(*p.ValueFrom.Default), true
			}
			if ok && ref == nil && interpolate.Has(v) {
				gs := op.globalScope()
				if r, err := findWhole(v, gs); err == nil && r != nil {
					ref = r
				} else if v, err = op.substituteString(v, gs); err != nil {
					return in, fmt.Errorf("inputs.parameters.%s: %w", p.Name, err)
				}
			}
		}
		if !ok {
			return in, fmt.Errorf("inputs.parameters.%s was not supplied", p.Name)
		}
		if ref != nil {
			// An offloaded value is not read here: its enum is checked by
			// nothing (docs/argo-differences.md).
			if in.refs == nil {
				in.refs = map[string]v1alpha1.ValueRef{}
			}
			in.refs[p.Name] = *ref
			continue
		}
		if len(p.Enum) > 0 && !slices.Contains(p.Enum, v1alpha1.AnyString(v)) {
			return in, fmt.Errorf("inputs.parameters.%s: %q is not one of %v", p.Name, v, p.Enum)
		}
		in.params[p.Name] = v
	}
	for _, a := range tmpl.Inputs.Artifacts {
		got, ok, err := op.bindArtifact(a, args)
		if err != nil {
			return in, err
		}
		if !ok {
			continue
		}
		if in.artifacts == nil {
			in.artifacts = map[string]v1alpha1.Artifact{}
		}
		in.artifacts[a.Name] = got
	}
	return in, nil
}

// argumentValue is the value of the parameter called name, or its
// reference when it is offloaded.
func argumentValue(params []v1alpha1.Parameter, name string) (string, *v1alpha1.ValueRef, bool) {
	for _, p := range params {
		if p.Name != name {
			continue
		}
		if p.ValueRef != nil {
			return "", p.ValueRef, true
		}
		if p.Value != nil {
			return string(*p.Value), nil, true
		}
		if p.ValueFrom != nil && p.ValueFrom.Default != nil {
			return string(*p.ValueFrom.Default), nil, true
		}
	}
	return "", nil, false
}

// substituteArguments resolves the tags of a task's or hook's arguments. A
// parameter whose value is one whole tag naming an offloaded value passes
// the reference on; an artifact's from or fromExpression becomes its
// location, or is recorded as absent.
func (op *operation) substituteArguments(args v1alpha1.Arguments, s *scope) (callArgs, error) {
	out := callArgs{}
	resolve := op.resolver(s)
	for _, p := range args.Parameters {
		if p.Value != nil && p.ValueRef == nil {
			ref, err := findWhole(string(*p.Value), s)
			if err != nil {
				return out, fmt.Errorf("arguments.parameters.%s: %w", p.Name, err)
			}
			if ref != nil {
				p.Value, p.ValueRef = nil, ref
				out.Parameters = append(out.Parameters, p)
				continue
			}
			v, err := interpolate.String(string(*p.Value), resolve)
			if err != nil {
				return out, fmt.Errorf("arguments.parameters.%s: %w", p.Name, err)
			}
			p.Value = v1alpha1.ParseAnyString(v)
		}
		out.Parameters = append(out.Parameters, p)
	}
	for _, a := range args.Artifacts {
		got, why, err := op.resolveArtifact(a, s)
		if err != nil {
			return out, fmt.Errorf("arguments.artifacts.%s: %w", a.Name, err)
		}
		if why != "" {
			if out.absent == nil {
				out.absent = map[string]string{}
			}
			out.absent[a.Name] = why
			if a.Optional {
				// Marked optional where it is passed: the input is
				// absent even if the template did not say optional.
				out.absent[a.Name] = ""
			}
			continue
		}
		out.Artifacts = append(out.Artifacts, got)
	}
	return out, nil
}
