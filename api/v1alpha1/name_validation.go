package v1alpha1

import (
	"fmt"
	"regexp"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxNameLength is the longest template, task or step name.
const maxNameLength = 128

var (
	// nodeNameRE matches template, task, step and hook names: they become
	// parts of node IDs, where "." and "[" are separators.
	nodeNameRE = regexp.MustCompile(`^[a-zA-Z0-9][-a-zA-Z0-9_]*$`)
	// paramNameRE matches parameter and artifact names.
	paramNameRE = regexp.MustCompile(`^[a-zA-Z0-9_][-a-zA-Z0-9_.]*$`)
)

// reservedNodeName reports the task and step names that collide with node
// IDs the engine makes: <parent>.onExit and <parent>.hooks.<name>.
func reservedNodeName(name string) bool { return name == "onExit" || name == "hooks" }

// validateNodeName checks the name of a template, task, step or hook; what
// says which, for the message.
func validateNodeName(path *field.Path, name, what string) field.ErrorList {
	switch {
	case name == "":
		return field.ErrorList{field.Required(path, fmt.Sprintf("every %s needs a name", what))}
	case len(name) > maxNameLength:
		return field.ErrorList{field.TooLong(path, name, maxNameLength)}
	case !nodeNameRE.MatchString(name):
		return field.ErrorList{field.Invalid(path, name, fmt.Sprintf(
			"a %s name must start with a letter or digit and hold only letters, digits, '-' and '_' (it is part of node IDs, where '.' separates names)", what))}
	}
	return nil
}

// validateChildName checks a task or step name, which must also avoid the
// names reserved for hook node IDs.
func validateChildName(path *field.Path, name, what string) field.ErrorList {
	if allErrs := validateNodeName(path, name, what); len(allErrs) > 0 {
		return allErrs
	}
	if reservedNodeName(name) {
		return field.ErrorList{field.Invalid(path, name, fmt.Sprintf(
			"%q is reserved: node IDs use <%s>.onExit and <%s>.hooks.<name> for hooks, so rename the %s", name, what, what, what))}
	}
	return nil
}

// validateParamName checks a parameter or artifact name.
func validateParamName(path *field.Path, name string) field.ErrorList {
	switch {
	case name == "":
		return field.ErrorList{field.Required(path, "every parameter and artifact needs a name")}
	case !paramNameRE.MatchString(name):
		return field.ErrorList{field.Invalid(path, name,
			"must start with a letter, digit or '_' and hold only letters, digits, '-', '_' and '.'")}
	}
	return nil
}

// uniqueNames reports each name that repeats an earlier one; at returns
// the path of the i-th name, and fix says what to do about a repeat.
func uniqueNames(names []string, at func(i int) *field.Path, what, fix string) field.ErrorList {
	var allErrs field.ErrorList
	first := make(map[string]int, len(names))
	for i, name := range names {
		if name == "" {
			continue
		}
		if j, dup := first[name]; dup {
			allErrs = append(allErrs, duplicate(at(i), name,
				fmt.Sprintf("%s names must be unique, and %s has this name too: %s", what, at(j), fix)))
			continue
		}
		first[name] = i
	}
	return allErrs
}
