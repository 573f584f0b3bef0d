package v1alpha1

import (
	"fmt"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/zeroflow-dev/zeroflow/internal/expression"
	"github.com/zeroflow-dev/zeroflow/internal/interpolate"
)

// tagScope says which variables the {{...}} tags of one part of a spec may
// name. The engine fails a node whose tag names a variable of a known family
// (inputs., workflow., tasks., …) that it cannot resolve, so such a tag is
// reported here; tags of other families are left as written, as in Argo.
type tagScope struct {
	// template is the template whose inputs the strings see; "" outside
	// any template (spec.hooks).
	template string
	// inputs are the template's declared input parameters.
	inputs []string
	// workflowParams are the names {{workflow.parameters.X}} may use; nil
	// when they are not all known.
	workflowParams map[string]bool
	// nodes are the tasks or steps the strings may refer to; nil for none.
	nodes *nodeRefs
	// item is set in the fields of a task or step that loops.
	item bool
	// retries is set in leaf templates, where {{retries}} is the attempt.
	retries bool
	// inInputs is set in a template's inputs, whose values and defaults
	// see only the global variables.
	inInputs bool
}

// nodeRefs are the tasks of a dag, or the steps of a steps template, that
// {{tasks.X...}} or {{steps.X...}} can name.
type nodeRefs struct {
	// prefix is "tasks" or "steps".
	prefix string
	// all are every task or step of the template.
	all map[string]bool
	// hidden explains why name, one of all, is not visible here; "" when
	// it is. nil means all are visible.
	hidden func(name string) string
}

// noun is what one of the nodes is called, for messages.
func (r *nodeRefs) noun() string {
	if r.prefix == "tasks" {
		return "task"
	}
	return "step"
}

// checkStrings checks the tags of every string in v, which is at path.
func (sc *tagScope) checkStrings(v any, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	eachString(reflect.ValueOf(v), path, func(p *field.Path, s string) {
		allErrs = append(allErrs, sc.checkString(p, s)...)
	})
	return allErrs
}

// checkString checks that the tags of s are well formed, that expression
// tags compile, and that variables name something visible here.
func (sc *tagScope) checkString(path *field.Path, s string) field.ErrorList {
	if !interpolate.Has(s) {
		return nil
	}
	tags, err := interpolate.Find(s)
	if err != nil {
		return field.ErrorList{field.Invalid(path, s,
			fmt.Sprintf("%v: write a tag as {{variable}} or {{=expression}}, closed by }}", err))}
	}
	var allErrs field.ErrorList
	for _, t := range tags {
		if t.Expression {
			if err := expression.Check(t.Text); err != nil {
				allErrs = append(allErrs, field.Invalid(path, s, fmt.Sprintf("tag %s: %v", t, err)))
			}
			continue
		}
		if e := sc.checkVariable(path, t.Text); e != nil {
			allErrs = append(allErrs, e)
		}
	}
	return allErrs
}

// checkVariable checks the variable of a {{name}} tag by its family.
func (sc *tagScope) checkVariable(path *field.Path, name string) *field.Error {
	tag := "{{" + name + "}}"
	switch {
	case strings.HasPrefix(name, "inputs."):
		return sc.checkInputVariable(path, tag, strings.TrimPrefix(name, "inputs."))
	case strings.HasPrefix(name, "workflow."):
		return sc.checkWorkflowVariable(path, tag, strings.TrimPrefix(name, "workflow."))
	case strings.HasPrefix(name, "tasks."), strings.HasPrefix(name, "steps."):
		return sc.checkNodeVariable(path, tag, name)
	case strings.HasPrefix(name, "item"):
		return sc.checkItemVariable(path, tag, name)
	case strings.HasPrefix(name, "retries"):
		return sc.checkRetriesVariable(path, tag, name)
	case strings.HasPrefix(name, "lastRetry."):
		return field.Invalid(path, tag,
			"lastRetry.* is only visible in retryStrategy.expression, written without braces, e.g. expression: lastRetry.status == \"Error\"")
	case isOwnOutputPath(name):
		// Argo's {{outputs.artifacts.NAME.path}} and
		// {{outputs.parameters.NAME.path}}: where the step writes them.
		return nil
	case strings.HasPrefix(name, "outputs."):
		return field.Invalid(path, tag,
			"a template's own outputs are not variables: refer to the outputs of a task or step, e.g. {{tasks.<name>.outputs.result}}")
	}
	return nil
}

// isOwnOutputPath reports outputs.artifacts.NAME.path and
// outputs.parameters.NAME.path, the paths a template's own outputs are
// written at.
func isOwnOutputPath(name string) bool {
	for _, family := range []string{"outputs.artifacts.", "outputs.parameters."} {
		if rest, ok := strings.CutPrefix(name, family); ok {
			n, ok := strings.CutSuffix(rest, ".path")
			return ok && n != "" && !strings.Contains(n, ".")
		}
	}
	return false
}
