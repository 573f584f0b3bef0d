package v1alpha1

import (
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

// validateRetryStrategy checks a retry strategy's fields. The engine reads
// them only when an attempt fails, so a mistake here would otherwise
// surface as an Error node long after the workflow started.
func validateRetryStrategy(rs *RetryStrategy, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if rs.Limit != nil {
		allErrs = append(allErrs, validateCount(path.Child("limit"), *rs.Limit, 0,
			"must be an integer of retries, 0 or more, e.g. 3 (remove it for no limit)")...)
	}
	switch rs.RetryPolicy {
	case "", RetryAlways, RetryOnFailure, RetryOnError, RetryOnTransientError:
	default:
		allErrs = append(allErrs, field.NotSupported(path.Child("retryPolicy"), string(rs.RetryPolicy),
			[]RetryPolicy{RetryAlways, RetryOnFailure, RetryOnError, RetryOnTransientError}))
	}
	if rs.Expression != "" {
		if err := expression.Check(rs.Expression); err != nil {
			allErrs = append(allErrs, field.Invalid(path.Child("expression"), rs.Expression, err.Error()))
		}
	}
	if rs.Backoff != nil {
		allErrs = append(allErrs, validateBackoff(rs.Backoff, path.Child("backoff"))...)
	}
	return allErrs
}

func validateBackoff(b *Backoff, path *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if b.Duration == "" {
		allErrs = append(allErrs, field.Required(path.Child("duration"),
			"a backoff needs the first wait, e.g. duration: 10s (or remove backoff to retry at once)"))
	} else {
		allErrs = append(allErrs, validateSeconds(path.Child("duration"), b.Duration)...)
	}
	if b.Cap != "" {
		allErrs = append(allErrs, validateSeconds(path.Child("cap"), b.Cap)...)
	}
	if b.MaxDuration != "" {
		allErrs = append(allErrs, validateSeconds(path.Child("maxDuration"), b.MaxDuration)...)
	}
	if b.Factor != nil {
		allErrs = append(allErrs, validateCount(path.Child("factor"), *b.Factor, 1,
			"must be an integer, 1 or more: each wait is the previous one times factor")...)
	}
	return allErrs
}

// validateCount checks an integer written as a number or a string, at least
// minimum.
func validateCount(path *field.Path, v intstr.IntOrString, minimum int, detail string) field.ErrorList {
	n := int(v.IntVal)
	if v.Type == intstr.String {
		var err error
		if n, err = strconv.Atoi(strings.TrimSpace(v.StrVal)); err != nil {
			return field.ErrorList{field.Invalid(path, v.StrVal, detail)}
		}
	}
	if n < minimum {
		return field.ErrorList{field.Invalid(path, v.String(), detail)}
	}
	return nil
}
