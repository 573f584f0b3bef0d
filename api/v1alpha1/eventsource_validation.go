package v1alpha1

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

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
	if len(es.Spec.Webhook) == 0 && len(es.Spec.Calendar) == 0 && len(es.Spec.Resource) == 0 {
		errs = append(errs, field.Required(spec, "declare at least one event, under spec.webhook, spec.calendar or spec.resource"))
	}
	errs = append(errs, validateCalendar(es.Spec.Calendar, spec.Child("calendar"))...)
	errs = append(errs, validateResourceEvents(es.Spec.Resource, spec.Child("resource"))...)
	// One Knative Service serves every event of an EventSource on one
	// port, so an endpoint and method pair may appear only once.
	seen := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(es.Spec.Webhook)) {
		w := es.Spec.Webhook[name]
		p := spec.Child("webhook").Key(name)
		errs = append(errs, validateEventName(p, name)...)
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

// validateCalendar checks calendar events: a schedule or an interval, a
// real time zone, and nothing a PingSource cannot do.
func validateCalendar(events map[string]CalendarEventSource, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, name := range slices.Sorted(maps.Keys(events)) {
		c := events[name]
		p := path.Key(name)
		errs = append(errs, validateEventName(p, name)...)
		switch {
		case c.Schedule == "" && c.Interval == "":
			errs = append(errs, field.Required(p.Child("schedule"), "set a schedule or an interval"))
		case c.Schedule != "" && c.Interval != "":
			errs = append(errs, field.Invalid(p.Child("interval"), c.Interval, "set a schedule or an interval, not both"))
		case c.Schedule != "":
			if _, err := ParseSchedule(c.Schedule); err != nil {
				errs = append(errs, field.Invalid(p.Child("schedule"), c.Schedule, err.Error()))
			}
		default:
			if _, err := IntervalSchedule(c.Interval); err != nil {
				errs = append(errs, field.Invalid(p.Child("interval"), c.Interval, err.Error()))
			}
		}
		errs = append(errs, validateTimezone(p.Child("timezone"), c.Timezone)...)
		if len(c.ExclusionDates) > 0 {
			errs = append(errs, field.Forbidden(p.Child("exclusionDates"), "not supported: a Knative PingSource cannot skip dates; drop them with a sensor filter (e.g. a time filter) instead"))
		}
	}
	return errs
}

// validateResourceEvents checks resource events: what to watch, and nothing an
// ApiServerSource cannot do.
func validateResourceEvents(events map[string]ResourceEventSource, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, name := range slices.Sorted(maps.Keys(events)) {
		r := events[name]
		p := path.Key(name)
		errs = append(errs, validateEventName(p, name)...)
		for _, f := range []struct{ name, value, msg string }{
			{"version", r.Version, ""},
			{"resource", r.Resource, ""},
			{"kind", r.Kind, "an ApiServerSource watches a kind, e.g. Pod for resource pods"},
		} {
			if f.value == "" {
				errs = append(errs, field.Required(p.Child(f.name), f.msg))
			}
		}
		if len(r.EventTypes) > 0 {
			all := map[string]bool{}
			for _, t := range r.EventTypes {
				all[t] = true
			}
			if len(all) != 3 || !all["ADD"] || !all["UPDATE"] || !all["DELETE"] {
				errs = append(errs, field.Invalid(p.Child("eventTypes"), r.EventTypes, "an ApiServerSource sends ADD, UPDATE and DELETE: leave eventTypes out and filter in the sensor on the type (dev.knative.apiserver.resource.add, .update, .delete)"))
			}
		}
		if f := r.Filter; f != nil {
			fp := p.Child("filter")
			for i, l := range f.Labels {
				if l.Key == "" {
					errs = append(errs, field.Required(fp.Child("labels").Index(i).Child("key"), ""))
				}
				switch l.Operation {
				case "", "==", "=", "!=", "in", "notin", "exists", "!":
				default:
					errs = append(errs, field.NotSupported(fp.Child("labels").Index(i).Child("operation"), l.Operation, []string{"==", "=", "!=", "in", "notin", "exists", "!"}))
				}
			}
			why := "an ApiServerSource selects by labels only; filter in the sensor instead"
			if f.Prefix != "" {
				errs = append(errs, field.Forbidden(fp.Child("prefix"), why))
			}
			if len(f.Fields) > 0 {
				errs = append(errs, field.Forbidden(fp.Child("fields"), why))
			}
			if f.CreatedBy != "" {
				errs = append(errs, field.Forbidden(fp.Child("createdBy"), why))
			}
			if f.AfterStart {
				errs = append(errs, field.Forbidden(fp.Child("afterStart"), why))
			}
		}
	}
	return errs
}

// validateEventName checks the name of an event (its CloudEvent subject).
func validateEventName(path *field.Path, name string) field.ErrorList {
	if validEventName(name) {
		return nil
	}
	return field.ErrorList{field.Invalid(path, name, "an event name is a CloudEvent subject: letters, digits, '-', '_' and '.'")}
}

// validateTimezone checks an IANA time zone name ("" is UTC).
func validateTimezone(path *field.Path, tz string) field.ErrorList {
	if tz == "" {
		return nil
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return field.ErrorList{field.Invalid(path, tz, fmt.Sprintf("not a time zone: %v", err))}
	}
	return nil
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
