package v1alpha1

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// workflowFields lists, for messages, the workflow variables that are not
// families; isWorkflowField must agree with it.
const workflowFields = "name, namespace, uid, mainEntrypoint, status, duration, failures, creationTimestamp, " +
	"creationTimestamp.RFC3339, creationTimestamp.s, parameters.<name>, parameters.json, labels.<key>, " +
	"annotations.<key>, outputs.parameters.<globalName> and outputs.artifacts.<globalName>"

// isWorkflowField reports the workflow.* variables the engine sets.
func isWorkflowField(f string) bool {
	switch f {
	case "name", "namespace", "uid", "mainEntrypoint", "status", "duration", "failures",
		"creationTimestamp", "creationTimestamp.RFC3339", "creationTimestamp.s":
		return true
	}
	for _, family := range []string{"parameters.", "labels.", "annotations.", "outputs.parameters.", "outputs.artifacts."} {
		if rest, ok := strings.CutPrefix(f, family); ok && rest != "" {
			return true
		}
	}
	return false
}

// isNodeField reports the fields of tasks.X or steps.X the engine sets.
func isNodeField(f string) bool {
	switch f {
	case "id", "status", "startedAt", "finishedAt", "outputs.result", "outputs.exitCode", "outputs.parameters":
		return true
	}
	for _, family := range []string{"outputs.parameters.", "outputs.artifacts."} {
		if rest, ok := strings.CutPrefix(f, family); ok && rest != "" {
			return true
		}
	}
	return false
}

// checkInputVariable checks {{inputs.<rest>}}.
func (sc *tagScope) checkInputVariable(path *field.Path, tag, rest string) *field.Error {
	family, name, _ := strings.Cut(rest, ".")
	switch {
	case name == "" || (family != "parameters" && family != "artifacts"):
		return field.Invalid(path, tag, "not a variable: use {{inputs.parameters.<name>}} or {{inputs.artifacts.<name>}}")
	case sc.inInputs:
		return field.Invalid(path, tag, "an input's value or default is resolved before the template runs and sees only the global variables ({{workflow.*}}): "+
			"use the other input in the template's body, or have the caller pass the value as an argument")
	case sc.template == "":
		return field.Invalid(path, tag, "there are no inputs here: {{inputs.*}} is only set inside a template")
	case family == "parameters" && !slices.Contains(sc.inputs, name):
		return notFound(path, tag, fmt.Sprintf(
			"template %q declares no input parameter %q: add it to its inputs.parameters or fix the name (declared: %s)",
			sc.template, name, nameList(sc.inputs)))
	}
	return nil
}

// checkWorkflowVariable checks {{workflow.<f>}}.
func (sc *tagScope) checkWorkflowVariable(path *field.Path, tag, f string) *field.Error {
	if !isWorkflowField(f) {
		return field.Invalid(path, tag, fmt.Sprintf("workflow.%s is not a workflow variable: use one of %s", f, workflowFields))
	}
	param, ok := strings.CutPrefix(f, "parameters.")
	if !ok || param == "json" || sc.workflowParams == nil || sc.workflowParams[param] {
		return nil
	}
	names := make([]string, 0, len(sc.workflowParams))
	for n := range sc.workflowParams {
		names = append(names, n)
	}
	return notFound(path, tag, fmt.Sprintf(
		"spec.arguments.parameters has no parameter %q: add it there or fix the name (parameters: %s)", param, nameList(names)))
}

// checkNodeVariable checks {{tasks.<task>.<field>}} and {{steps.<step>.<field>}}.
func (sc *tagScope) checkNodeVariable(path *field.Path, tag, name string) *field.Error {
	prefix, rest, _ := strings.Cut(name, ".")
	node, f, _ := strings.Cut(rest, ".")
	refs := sc.nodes
	if refs == nil || refs.prefix != prefix {
		where := "the tasks of a dag template"
		if prefix == "steps" {
			where = "the steps of a steps template"
		}
		return field.Invalid(path, tag, fmt.Sprintf("{{%s.*}} is only set in %s and in that template's outputs", prefix, where))
	}
	if !refs.all[node] {
		names := make([]string, 0, len(refs.all))
		for n := range refs.all {
			names = append(names, n)
		}
		return notFound(path, tag, fmt.Sprintf("there is no %s %q in this template: fix the name (%s: %s)",
			refs.noun(), node, prefix, nameList(names)))
	}
	if refs.hidden != nil {
		if why := refs.hidden(node); why != "" {
			return field.Invalid(path, tag, why)
		}
	}
	if !isNodeField(f) {
		return field.Invalid(path, tag, fmt.Sprintf(
			"%s.%s has no field %q: use id, status, startedAt, finishedAt, outputs.result, outputs.exitCode, outputs.parameters.<name> or outputs.artifacts.<name>",
			prefix, node, f))
	}
	return nil
}

// checkItemVariable checks {{item}} and {{item.<key>}}.
func (sc *tagScope) checkItemVariable(path *field.Path, tag, name string) *field.Error {
	switch {
	case name != "item" && !strings.HasPrefix(name, "item."):
		return field.Invalid(path, tag, "not a variable: a loop item is {{item}}, or {{item.<key>}} for a key of an object item")
	case !sc.item:
		return field.Invalid(path, tag,
			"{{item}} is only set in the arguments and when of a task or step that loops (withItems, withParam or withSequence): add a loop or pass the value as an argument")
	}
	return nil
}

// checkRetriesVariable checks {{retries}}.
func (sc *tagScope) checkRetriesVariable(path *field.Path, tag, name string) *field.Error {
	switch {
	case name != "retries":
		return field.Invalid(path, tag, "not a variable: the attempt number is {{retries}}")
	case sc.inInputs:
		return field.Invalid(path, tag, "{{retries}} is not set in a template's inputs, which are resolved once before the first attempt: use it in the template's body")
	case !sc.retries:
		return field.Invalid(path, tag, "{{retries}} is only set in leaf templates (function, container, script, http or resource)")
	}
	return nil
}
