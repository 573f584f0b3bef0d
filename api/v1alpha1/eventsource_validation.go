package v1alpha1

import (
	"fmt"
	"sort"
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

// validateCalendar checks calendar events: a schedule or an interval, a
// real time zone, and nothing a PingSource cannot do.
func validateCalendar(events map[string]CalendarEventSource, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := make([]string, 0, len(events))
	for name := range events {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := events[name]
		p := path.Key(name)
		if !validEventName(name) {
			errs = append(errs, field.Invalid(p, name, "an event name is a CloudEvent subject: letters, digits, '-', '_' and '.'"))
		}
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
		if c.Timezone != "" {
			if _, err := time.LoadLocation(c.Timezone); err != nil {
				errs = append(errs, field.Invalid(p.Child("timezone"), c.Timezone, fmt.Sprintf("not a time zone: %v", err)))
			}
		}
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
	names := make([]string, 0, len(events))
	for name := range events {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r := events[name]
		p := path.Key(name)
		if !validEventName(name) {
			errs = append(errs, field.Invalid(p, name, "an event name is a CloudEvent subject: letters, digits, '-', '_' and '.'"))
		}
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
