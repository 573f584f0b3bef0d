package engine

import (
	"fmt"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

// effectiveSpec merges a workflow's spec over the WorkflowTemplate it
// references: fields set on the workflow win, templates and arguments merge
// by name.
func effectiveSpec(wf *v1alpha1.WorkflowSpec, stored *v1alpha1.WorkflowSpec) (*v1alpha1.WorkflowSpec, error) {
	if wf.WorkflowTemplateRef == nil {
		return wf, nil
	}
	if stored == nil {
		return nil, fmt.Errorf("workflowTemplateRef %q is not resolved: status.storedWorkflowTemplateSpec is empty", wf.WorkflowTemplateRef.Name)
	}
	return MergeSpec(wf, stored), nil
}

// MergeSpec returns base with every field that override sets replaced.
// Templates and argument parameters merge by name, override winning.
func MergeSpec(override, base *v1alpha1.WorkflowSpec) *v1alpha1.WorkflowSpec {
	out := base.DeepCopy()
	o := override.DeepCopy()
	out.WorkflowTemplateRef = nil
	if o.Entrypoint != "" {
		out.Entrypoint = o.Entrypoint
	}
	out.Arguments.Parameters = mergeByName(out.Arguments.Parameters, o.Arguments.Parameters, func(p v1alpha1.Parameter) string { return p.Name })
	out.Arguments.Artifacts = mergeByName(out.Arguments.Artifacts, o.Arguments.Artifacts, func(a v1alpha1.Artifact) string { return a.Name })
	out.Templates = mergeByName(out.Templates, o.Templates, func(t v1alpha1.Template) string { return t.Name })
	if o.OnExit != "" {
		out.OnExit = o.OnExit
	}
	for k, h := range o.Hooks {
		if out.Hooks == nil {
			out.Hooks = v1alpha1.LifecycleHooks{}
		}
		out.Hooks[k] = h
	}
	if o.Parallelism != nil {
		out.Parallelism = o.Parallelism
	}
	if o.ActiveDeadlineSeconds != nil {
		out.ActiveDeadlineSeconds = o.ActiveDeadlineSeconds
	}
	if o.RetryStrategy != nil {
		out.RetryStrategy = o.RetryStrategy
	}
	if o.Shutdown != "" {
		out.Shutdown = o.Shutdown
	}
	if o.Suspend != nil {
		out.Suspend = o.Suspend
	}
	if o.TTLStrategy != nil {
		out.TTLStrategy = o.TTLStrategy
	}
	return out
}

func mergeByName[T any](base, override []T, name func(T) string) []T {
	out := append([]T(nil), base...)
	for _, o := range override {
		replaced := false
		for i := range out {
			if name(out[i]) == name(o) {
				out[i] = o
				replaced = true
			}
		}
		if !replaced {
			out = append(out, o)
		}
	}
	return out
}

// lookupTemplate finds a template by name among the workflow's templates
// (ref "") or among those stored for WorkflowTemplate ref.
func (op *operation) lookupTemplate(ref, name string) (*v1alpha1.Template, error) {
	if ref == "" {
		for i := range op.spec.Templates {
			if op.spec.Templates[i].Name == name {
				return &op.spec.Templates[i], nil
			}
		}
		return nil, fmt.Errorf("template %q not found", name)
	}
	return op.storedTemplate(v1alpha1.TemplateRef{Name: ref, Template: name})
}

func (op *operation) storedTemplate(r v1alpha1.TemplateRef) (*v1alpha1.Template, error) {
	t, ok := op.status.StoredTemplates[r.Key()]
	if !ok {
		return nil, fmt.Errorf("templateRef %s is not resolved (status.storedTemplates has no %q)", r.Key(), r.Key())
	}
	return &t, nil
}

// resolveRef finds the template a task, step or hook names, and the
// WorkflowTemplate its own references resolve in.
func (op *operation) resolveRef(ref, template string, tr *v1alpha1.TemplateRef) (*v1alpha1.Template, string, error) {
	if tr != nil {
		t, err := op.storedTemplate(*tr)
		return t, tr.Name, err
	}
	t, err := op.lookupTemplate(ref, template)
	return t, ref, err
}

// dependsOf returns a task's depends expression, compiled once per engine.
func (op *operation) dependsOf(t *v1alpha1.DAGTask) (*expression.Depends, error) {
	return op.engine.parseDepends(t.Depends, t.Dependencies)
}
