package engine

import (
	"fmt"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

// templateOutputs computes a finished dag's or steps' declared outputs from
// its scope: valueFrom.parameter (one reference), valueFrom.expression, or
// a value with tags; valueFrom.default when the source fails.
func (op *operation) templateOutputs(t *v1alpha1.Template, sc *scope) (*v1alpha1.NodeOutputs, error) {
	if len(t.Outputs.Parameters) == 0 && len(t.Outputs.Artifacts) == 0 {
		return nil, nil
	}
	out := &v1alpha1.NodeOutputs{}
	for _, p := range t.Outputs.Parameters {
		if p.ValueFrom != nil && p.ValueFrom.Parameter != "" {
			// One reference to an offloaded value passes the reference on.
			if ref, err := findWhole(p.ValueFrom.Parameter, sc); err == nil && ref != nil {
				if out.ParameterRefs == nil {
					out.ParameterRefs = map[string]v1alpha1.ValueRef{}
				}
				out.ParameterRefs[p.Name] = *ref
				continue
			}
		}
		v, err := op.outputValue(p, sc)
		if err != nil {
			if p.ValueFrom != nil && p.ValueFrom.Default != nil {
				v, err = string(*p.ValueFrom.Default), nil
			} else {
				return nil, fmt.Errorf("outputs.parameters.%s: %w", p.Name, err)
			}
		}
		if out.Parameters == nil {
			out.Parameters = map[string]string{}
		}
		out.Parameters[p.Name] = v
	}
	for _, a := range t.Outputs.Artifacts {
		if a.From == "" && a.FromExpression == "" {
			continue
		}
		got, why, err := op.resolveArtifact(a, sc)
		if err != nil || why != "" {
			if a.Optional {
				continue
			}
			if err == nil {
				err = fmt.Errorf("%s", why)
			}
			return nil, fmt.Errorf("outputs.artifacts.%s: %w", a.Name, err)
		}
		if out.Artifacts == nil {
			out.Artifacts = map[string]string{}
		}
		out.Artifacts[a.Name] = artifactLocation(got)
	}
	return out, nil
}

func (op *operation) outputValue(p v1alpha1.Parameter, sc *scope) (string, error) {
	switch {
	case p.ValueFrom != nil && p.ValueFrom.Parameter != "":
		return op.substituteString(p.ValueFrom.Parameter, sc)
	case p.ValueFrom != nil && p.ValueFrom.Expression != "":
		v, err := expression.Eval(p.ValueFrom.Expression, expression.Expand(sc.flatten()))
		if err != nil {
			return "", err
		}
		return expression.Render(v)
	case p.Value != nil:
		return op.substituteString(string(*p.Value), sc)
	case p.ValueFrom != nil && p.ValueFrom.Default != nil:
		return string(*p.ValueFrom.Default), nil
	}
	return "", fmt.Errorf("has no value, valueFrom.parameter or valueFrom.expression")
}
