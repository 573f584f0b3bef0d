package controller

import (
	"context"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// templateGetter reads WorkflowTemplates.
type templateGetter interface {
	GetWorkflowTemplate(ctx context.Context, namespace, name string) (*v1alpha1.WorkflowTemplate, error)
}

// errNotFound marks a reference that names nothing: the run cannot start,
// and trying again will not help.
type errNotFound struct{ msg string }

func (e errNotFound) Error() string { return e.msg }

// snapshot copies every WorkflowTemplate a run uses into its status, as
// Argo does with storedWorkflowTemplateSpec, so that editing a template does
// not change a run that started: spec.workflowTemplateRef into
// storedWorkflowTemplateSpec, and each templateRef, with the templates it
// calls in its own WorkflowTemplate, into storedTemplates.
func snapshot(ctx context.Context, get templateGetter, wf *v1alpha1.Workflow) error {
	wts := map[string]*v1alpha1.WorkflowTemplate{}
	fetch := func(name string) (*v1alpha1.WorkflowTemplate, error) {
		if t, ok := wts[name]; ok {
			return t, nil
		}
		t, err := get.GetWorkflowTemplate(ctx, wf.Namespace, name)
		if apierrors.IsNotFound(err) {
			return nil, errNotFound{fmt.Sprintf("WorkflowTemplate %s/%s not found", wf.Namespace, name)}
		}
		if err != nil {
			return nil, fmt.Errorf("read WorkflowTemplate %s/%s: %w", wf.Namespace, name, err)
		}
		wts[name] = t
		return t, nil
	}
	spec := &wf.Spec
	if ref := wf.Spec.WorkflowTemplateRef; ref != nil && wf.Status.StoredWorkflowTemplateSpec == nil {
		t, err := fetch(ref.Name)
		if err != nil {
			return fmt.Errorf("spec.workflowTemplateRef: %w", err)
		}
		stored := t.Spec.DeepCopy()
		wf.Status.StoredWorkflowTemplateSpec = stored
	}
	if wf.Status.StoredWorkflowTemplateSpec != nil {
		spec = wf.Status.StoredWorkflowTemplateSpec
	}
	stored := wf.Status.StoredTemplates
	if stored == nil {
		stored = map[string]v1alpha1.Template{}
	}
	// A queue of templates whose references are still to follow; ref is
	// the WorkflowTemplate a template's plain `template:` names resolve in
	// ("" for the workflow's own).
	type pending struct {
		ref  string
		tmpl v1alpha1.Template
		at   string
	}
	var queue []pending
	for i, t := range spec.Templates {
		queue = append(queue, pending{tmpl: t, at: fmt.Sprintf("spec.templates[%d]", i)})
	}
	if wf.Status.StoredWorkflowTemplateSpec != nil {
		for i, t := range wf.Spec.Templates {
			queue = append(queue, pending{tmpl: t, at: fmt.Sprintf("spec.templates[%d]", i)})
		}
	}
	for _, h := range sortedHooks(spec.Hooks) {
		if h.TemplateRef != nil {
			if err := storeRef(*h.TemplateRef, fetch, stored, func(t v1alpha1.Template) {
				queue = append(queue, pending{ref: h.TemplateRef.Name, tmpl: t, at: "spec.hooks"})
			}); err != nil {
				return fmt.Errorf("spec.hooks: %w", err)
			}
		}
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range calls(p.tmpl) {
			var key v1alpha1.TemplateRef
			switch {
			case c.ref != nil:
				key = *c.ref
			case p.ref != "" && c.template != "":
				key = v1alpha1.TemplateRef{Name: p.ref, Template: c.template}
			default:
				continue
			}
			if _, ok := stored[key.Key()]; ok {
				continue
			}
			if err := storeRef(key, fetch, stored, func(t v1alpha1.Template) {
				queue = append(queue, pending{ref: key.Name, tmpl: t, at: key.Key()})
			}); err != nil {
				return fmt.Errorf("%s: %s: %w", p.at, c.at, err)
			}
		}
	}
	if len(stored) > 0 {
		wf.Status.StoredTemplates = stored
	}
	return nil
}

// storeRef stores the template ref names and hands it to follow.
func storeRef(ref v1alpha1.TemplateRef, fetch func(string) (*v1alpha1.WorkflowTemplate, error), stored map[string]v1alpha1.Template, follow func(v1alpha1.Template)) error {
	if _, ok := stored[ref.Key()]; ok {
		return nil
	}
	wt, err := fetch(ref.Name)
	if err != nil {
		return fmt.Errorf("templateRef %s: %w", ref.Key(), err)
	}
	for _, t := range wt.Spec.Templates {
		if t.Name == ref.Template {
			stored[ref.Key()] = t
			follow(t)
			return nil
		}
	}
	return errNotFound{fmt.Sprintf("templateRef %s: WorkflowTemplate %s/%s has no template %q", ref.Key(), wt.Namespace, wt.Name, ref.Template)}
}

// call is one place a template calls another.
type call struct {
	template string
	ref      *v1alpha1.TemplateRef
	at       string
}

// calls lists the templates t calls: its tasks, steps and their hooks.
func calls(t v1alpha1.Template) []call {
	var out []call
	hooks := func(at string, hs v1alpha1.LifecycleHooks, onExit string) {
		for _, name := range sortedHookNames(hs) {
			h := hs[name]
			out = append(out, call{template: h.Template, ref: h.TemplateRef, at: at + ".hooks." + name})
		}
		if onExit != "" {
			out = append(out, call{template: onExit, at: at + ".onExit"})
		}
	}
	if t.DAG != nil {
		for i, task := range t.DAG.Tasks {
			at := fmt.Sprintf("dag.tasks[%d]", i)
			out = append(out, call{template: task.Template, ref: task.TemplateRef, at: at})
			hooks(at, task.Hooks, task.OnExit)
		}
	}
	for i, group := range t.Steps {
		for j, s := range group {
			at := fmt.Sprintf("steps[%d][%d]", i, j)
			out = append(out, call{template: s.Template, ref: s.TemplateRef, at: at})
			hooks(at, s.Hooks, s.OnExit)
		}
	}
	return out
}

func sortedHookNames(hs v1alpha1.LifecycleHooks) []string {
	names := make([]string, 0, len(hs))
	for n := range hs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func sortedHooks(hs v1alpha1.LifecycleHooks) []v1alpha1.LifecycleHook {
	out := make([]v1alpha1.LifecycleHook, 0, len(hs))
	for _, n := range sortedHookNames(hs) {
		out = append(out, hs[n])
	}
	return out
}
