package v1alpha1

import (
	"fmt"
	"sort"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

// ValidateEventSource reports what the schema cannot: unique endpoints,
// valid ports and filter expressions, a source with at least one event.
func ValidateEventSource(es *EventSource) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	if es.Name == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), "every object needs a name"))
	}
	if len(es.Spec.Webhook) == 0 {
		errs = append(errs, field.Required(spec, "declare at least one event, e.g. under spec.webhook"))
	}
	names := make([]string, 0, len(es.Spec.Webhook))
	for name := range es.Spec.Webhook {
		names = append(names, name)
	}
	sort.Strings(names)
	// One Knative Service serves every event of an EventSource on one
	// port, so an endpoint and method pair may appear only once.
	seen := map[string]string{}
	for _, name := range names {
		w := es.Spec.Webhook[name]
		p := spec.Child("webhook").Key(name)
		if !validEventName(name) {
			errs = append(errs, field.Invalid(p, name, "an event name is a CloudEvent subject: letters, digits, '-', '_' and '.'"))
		}
		if len(w.Endpoint) == 0 || w.Endpoint[0] != '/' {
			errs = append(errs, field.Invalid(p.Child("endpoint"), w.Endpoint, "must start with /, e.g. /workflow-a"))
		}
		switch w.Method {
		case "GET", "POST", "PUT", "PATCH", "DELETE":
		default:
			errs = append(errs, field.NotSupported(p.Child("method"), w.Method, []string{"GET", "POST", "PUT", "PATCH", "DELETE"}))
		}
		if n, err := strconv.Atoi(w.Port); err != nil || n < 1 || n > 65535 {
			errs = append(errs, field.Invalid(p.Child("port"), w.Port, "must be a port number, e.g. \"12000\""))
		}
		if w.MaxPayloadSize != nil && *w.MaxPayloadSize < 1 {
			errs = append(errs, field.Invalid(p.Child("maxPayloadSize"), *w.MaxPayloadSize, "must be at least 1 byte"))
		}
		if w.AuthSecret != nil && (w.AuthSecret.Name == "" || w.AuthSecret.Key == "") {
			errs = append(errs, field.Required(p.Child("authSecret"), "name the secret and its key"))
		}
		if w.Filter != nil {
			if err := expression.Check(w.Filter.Expression); err != nil {
				errs = append(errs, field.Invalid(p.Child("filter", "expression"), w.Filter.Expression, err.Error()))
			}
		}
		key := w.Method + " " + w.Endpoint
		if other, dup := seen[key]; dup {
			errs = append(errs, field.Duplicate(p.Child("endpoint"), fmt.Sprintf("%s is also used by event %q; on Knative all events of an EventSource share one port", key, other)))
		}
		seen[key] = name
	}
	return errs
}

func validEventName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
