package v1alpha1

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/zeroflow-dev/zeroflow/internal/interpolate"
)

// hasLoop reports whether a task or step runs once per item. An empty
// withItems is no loop, as in the engine and in Argo.
func hasLoop(items []Item, param string, seq *Sequence) bool {
	return len(items) > 0 || param != "" || seq != nil
}

// validateLoop checks the withItems, withParam and withSequence of a task
// or step at path.
func validateLoop(path *field.Path, items []Item, param string, seq *Sequence) field.ErrorList {
	var set []string
	for _, l := range []struct {
		name string
		set  bool
	}{{"withItems", len(items) > 0}, {"withParam", param != ""}, {"withSequence", seq != nil}} {
		if l.set {
			set = append(set, l.name)
		}
	}
	var allErrs field.ErrorList
	if len(set) > 1 {
		allErrs = append(allErrs, field.Forbidden(path.Child(set[1]), fmt.Sprintf(
			"%s is set too: a task or step loops over one of withItems, withParam or withSequence", set[0])))
	}
	if param != "" && !interpolate.Has(param) {
		allErrs = append(allErrs, validateParamList(path.Child("withParam"), param)...)
	}
	if seq != nil {
		allErrs = append(allErrs, validateSequence(path.Child("withSequence"), seq)...)
	}
	return allErrs
}

// validateParamList checks a withParam without tags, which must be a JSON
// list as written.
func validateParamList(path *field.Path, param string) field.ErrorList {
	var list []json.RawMessage
	if err := json.Unmarshal([]byte(param), &list); err != nil {
		return field.ErrorList{field.Invalid(path, param,
			"must be a JSON list, e.g. [\"a\", \"b\"], or a tag that gives one, e.g. {{tasks.gen.outputs.result}}")}
	}
	return nil
}

func validateSequence(path *field.Path, seq *Sequence) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case seq.End != nil && seq.Count != nil:
		allErrs = append(allErrs, field.Forbidden(path.Child("count"),
			"end is set too: set end (the last number) or count (how many numbers), not both"))
	case seq.End == nil && seq.Count == nil:
		allErrs = append(allErrs, field.Required(path,
			"set end (the last number, inclusive) or count (how many numbers)"))
	}
	allErrs = append(allErrs, validateSequenceNumber(path.Child("start"), seq.Start, false)...)
	allErrs = append(allErrs, validateSequenceNumber(path.Child("end"), seq.End, false)...)
	allErrs = append(allErrs, validateSequenceNumber(path.Child("count"), seq.Count, true)...)
	if seq.Format != "" && strings.Contains(fmt.Sprintf(seq.Format, 1), "%!") {
		allErrs = append(allErrs, field.Invalid(path.Child("format"), seq.Format,
			"must format one integer, e.g. %d or item-%02d"))
	}
	return allErrs
}

// validateSequenceNumber checks a number of withSequence; one with tags is
// only known at run time.
func validateSequenceNumber(path *field.Path, v *AnyString, nonNegative bool) field.ErrorList {
	if v == nil || interpolate.Has(string(*v)) {
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(*v)))
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(path, string(*v), "must be an integer, e.g. 5, or a tag that gives one")}
	case nonNegative && n < 0:
		return field.ErrorList{field.Invalid(path, string(*v), "must not be negative")}
	}
	return nil
}
