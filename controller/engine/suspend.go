package engine

import (
	"fmt"
	"slices"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/interpolate"
)

// execSuspend pauses until resumed or until its duration has passed.
func (op *operation) execSuspend(f frame) *v1alpha1.NodeStatus {
	n, exists := op.node(f.id)
	if !exists {
		if !op.canStart(f) {
			return nil
		}
		if _, err := f.inputs(); err != nil {
			return op.createFinal(f.id, v1alpha1.NodeError, err.Error())
		}
		n = op.newNode(v1alpha1.NodeRunning, v1alpha1.NodeTypeSuspend, "")
		op.setNode(f.id, n)
	}
	if n.Phase.Fulfilled() {
		return &n
	}
	switch {
	case op.in.Kind == Resume && selected(op.in.Nodes, f.id):
		msg := op.in.Message
		if msg == "" {
			msg = "Resumed"
		}
		n = op.endSuspend(f, n, msg, op.in.Outputs)
		return &n
	case op.in.Kind == Stop && len(op.in.Nodes) > 0 && selected(op.in.Nodes, f.id):
		msg := op.in.Message
		if msg == "" {
			msg = "Stopped"
		}
		n = op.fulfil(f.id, n, v1alpha1.NodeFailed, msg)
		return &n
	}
	if b, why := op.blocked(f); b {
		n = op.fulfil(f.id, n, v1alpha1.NodeFailed, why)
		return &n
	}
	raw := f.tmpl.Suspend.Duration
	if raw == "" {
		return &n
	}
	if interpolate.Has(raw) {
		in, err := f.inputs()
		if err == nil {
			raw, err = op.substituteString(raw, op.inputScope(in))
		}
		if err != nil {
			n = op.fulfil(f.id, n, v1alpha1.NodeError, fmt.Sprintf("suspend.duration: %v", err))
			return &n
		}
	}
	d, err := ParseSeconds(raw)
	if err != nil {
		n = op.fulfil(f.id, n, v1alpha1.NodeError, fmt.Sprintf("suspend.duration: %v", err))
		return &n
	}
	end := op.at(n.Started).Add(d)
	if op.now.Before(end) {
		op.wakeAt(end)
		return &n
	}
	n = op.endSuspend(f, n, "", nil)
	return &n
}

// endSuspend succeeds a suspend node. Outputs with valueFrom.supplied take
// the supplied value, else their default; one with neither is an error.
func (op *operation) endSuspend(f frame, n v1alpha1.NodeStatus, message string, supplied map[string]string) v1alpha1.NodeStatus {
	var outs v1alpha1.NodeOutputs
	for _, p := range f.tmpl.Outputs.Parameters {
		if p.ValueFrom == nil || p.ValueFrom.Supplied == nil {
			continue
		}
		v, ok := supplied[p.Name]
		if !ok {
			switch {
			case p.ValueFrom.Default != nil:
				v, ok = string(*p.ValueFrom.Default), true
			case p.Default != nil:
				v, ok = string(*p.Default), true
			}
		}
		if !ok {
			return op.fulfil(f.id, n, v1alpha1.NodeError, fmt.Sprintf("outputs.parameters.%s was not supplied and has no default", p.Name))
		}
		if outs.Parameters == nil {
			outs.Parameters = map[string]string{}
		}
		outs.Parameters[p.Name] = v
	}
	if outs.Parameters != nil {
		n.Outputs = &outs
		op.publishGlobals(f.tmpl, &outs)
	}
	return op.fulfil(f.id, n, v1alpha1.NodeSucceeded, message)
}

func selected(ids []string, id string) bool { return len(ids) == 0 || slices.Contains(ids, id) }
