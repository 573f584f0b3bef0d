package v1alpha1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// stepAt locates one step of a steps template.
type stepAt struct {
	group int
	step  *WorkflowStep
	path  *field.Path
}

// validateSteps checks the steps of template t, which is at path.
func (v *specValidator) validateSteps(t *Template, path *field.Path) field.ErrorList {
	stepsPath := path.Child("steps")
	if len(t.Steps) == 0 {
		return field.ErrorList{field.Required(stepsPath, "a steps template needs at least one group of steps")}
	}
	var steps []stepAt
	for g := range t.Steps {
		for i := range t.Steps[g] {
			steps = append(steps, stepAt{group: g, step: &t.Steps[g][i], path: stepsPath.Index(g).Index(i)})
		}
	}
	names := make([]string, len(steps))
	for k, s := range steps {
		names[k] = s.step.Name
	}
	// Step names are unique across groups, not just within one: the
	// engine resolves {{steps.X}} by name alone.
	allErrs := validateChildNames(names, func(k int) *field.Path { return steps[k].path.Child("name") }, "step")
	for _, s := range steps {
		allErrs = append(allErrs, v.validateStep(s.step, s.path)...)
	}
	return append(allErrs, v.validateStepTags(t, steps)...)
}

func (v *specValidator) validateStep(s *WorkflowStep, path *field.Path) field.ErrorList {
	allErrs := v.validateCall(path, s.Template, s.TemplateRef, s.Arguments)
	allErrs = append(allErrs, validateLoop(path, s.WithItems, s.WithParam, s.WithSequence)...)
	allErrs = append(allErrs, validateWhen(path.Child("when"), s.When)...)
	return append(allErrs, v.validateHooks(path.Child("hooks"), s.Hooks, s.OnExit, path.Child("onExit"), s.Arguments)...)
}

// validateStepTags checks the tags of each step's fields. A step sees the
// steps of earlier groups, which have finished when its group starts.
func (v *specValidator) validateStepTags(t *Template, steps []stepAt) field.ErrorList {
	base := v.templateScope(t)
	all := childRefs(t).all
	group := map[string]int{}
	for _, s := range steps {
		if _, dup := group[s.step.Name]; !dup {
			group[s.step.Name] = s.group
		}
	}
	var allErrs field.ErrorList
	for _, s := range steps {
		fields := *base
		fields.nodes = &nodeRefs{prefix: "steps", all: all, hidden: s.hiddenFrom(group, false)}
		step := s.step
		allErrs = append(allErrs, checkChildTags(&fields, hasLoop(step.WithItems, step.WithParam, step.WithSequence),
			childFields{call: stepCall(*step), hooks: step.Hooks, withParam: step.WithParam, withSequence: step.WithSequence},
			s.hiddenFrom(group, true), s.path)...)
	}
	return allErrs
}

// hiddenFrom is nodeRefs.hidden for the fields of step s, which see the
// steps of earlier groups; group maps a step name to its group. self lets
// them see s too, as its hooks do.
func (s stepAt) hiddenFrom(group map[string]int, self bool) func(string) string {
	me := s.step.Name
	return func(name string) string {
		switch {
		case group[name] < s.group, self && name == me:
			return ""
		case name == me:
			return fmt.Sprintf("step %s cannot use its own outputs in its own fields, which are resolved before it runs: use them in its hooks or in a later group", me)
		}
		return fmt.Sprintf("steps.%s is in steps[%d], not in a group before step %s (steps[%d]): a step only sees steps of earlier groups, so move %s to an earlier group",
			name, group[name], me, s.group, name)
	}
}

// stepCall is the part of a step whose tags see the loop item.
func stepCall(s WorkflowStep) WorkflowStep {
	s.Hooks, s.WithParam, s.WithSequence = nil, "", nil
	return s
}
