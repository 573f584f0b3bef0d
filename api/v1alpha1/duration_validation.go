package v1alpha1

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/zeroflow-dev/zeroflow/internal/interpolate"
)

// validateTimeout checks a template timeout: a Go duration, which the
// engine parses with time.ParseDuration. A timeout with tags is only known
// at run time.
func validateTimeout(path *field.Path, s string) field.ErrorList {
	if s == "" || interpolate.Has(s) {
		return nil
	}
	d, err := time.ParseDuration(s)
	switch {
	case err == nil && d < 0:
		return field.ErrorList{field.Invalid(path, s, "must not be negative")}
	case err == nil:
		return nil
	}
	if _, numErr := strconv.Atoi(strings.TrimSpace(s)); numErr == nil {
		return field.ErrorList{field.Invalid(path, s, fmt.Sprintf("a timeout needs a unit: use a unit, e.g. %ss", strings.TrimSpace(s)))}
	}
	return field.ErrorList{field.Invalid(path, s, "not a duration: write one such as 30s, 5m or 1h30m")}
}

// validateSeconds checks Argo's duration strings, as the engine reads them:
// an integer of seconds ("20") or a Go duration ("2m"), not negative.
func validateSeconds(path *field.Path, s string) field.ErrorList {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return field.ErrorList{field.Invalid(path, s, "must not be negative")}
		}
		return nil
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(path, s, "must be an integer of seconds (\"20\") or a duration with a unit (\"30s\", \"2m\")")}
	case d < 0:
		return field.ErrorList{field.Invalid(path, s, "must not be negative")}
	}
	return nil
}
