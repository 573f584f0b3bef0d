package events

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Reserved names. The functions route on these (the Knative Triggers that
// `zeroflow render` makes filter on them), so an event from outside that
// carried one would be taken for a control event: a step to run, a result,
// a submit, a cron firing. Sources refuse such events (CheckExternal).
const (
	// ReservedTypePrefix starts every type of zeroflow's own events.
	ReservedTypePrefix = "dev.zeroflow."
	// ReservedAPIServerTypePrefix starts the types of the ApiServerSource
	// events that resource EventSources route on.
	ReservedAPIServerTypePrefix = "dev.knative.apiserver."
	// ReservedExtensionPrefix starts zeroflow's routing extensions.
	ReservedExtensionPrefix = "zf"
	// ReservedKnativeExtensionPrefix starts the extensions Knative's
	// brokers and channels set (knativearrivaltime, knativeerrorcode, …),
	// which a sender must not be able to forge.
	ReservedKnativeExtensionPrefix = "knative"
)

// maxQuoted bounds how much of a refused value an error repeats, so that a
// caller cannot make the answer (or a log line) as large as its request.
const maxQuoted = 64

// ReservedError is an external event that carries a reserved attribute.
type ReservedError struct {
	// Attribute is "type" or the extension's name.
	Attribute string
	// Value is the attribute's value, as sent.
	Value string
}

func (e *ReservedError) Error() string {
	v := e.Value
	if len(v) > maxQuoted {
		v = v[:maxQuoted] + "…"
	}
	if e.Attribute == "type" {
		return fmt.Sprintf("attribute type %q is reserved for zeroflow's and Knative's own events; an event from outside must use another type", v)
	}
	return fmt.Sprintf("extension %s=%q is reserved (names starting with %q or %q are set by zeroflow and Knative only)", e.Attribute, v, ReservedExtensionPrefix, ReservedKnativeExtensionPrefix)
}

// ReservedType reports whether typ is a type that zeroflow routes on as a
// control event. The comparison ignores case: it costs nothing, and a
// filter that ever matched case-insensitively would not open a hole.
func ReservedType(typ string) bool {
	t := strings.ToLower(typ)
	return strings.HasPrefix(t, ReservedTypePrefix) || t == TypeKnativePing || strings.HasPrefix(t, ReservedAPIServerTypePrefix)
}

// ReservedExtension reports whether name is an extension only zeroflow or
// Knative may set.
func ReservedExtension(name string) bool {
	n := strings.ToLower(name)
	return strings.HasPrefix(n, ReservedExtensionPrefix) || strings.HasPrefix(n, ReservedKnativeExtensionPrefix)
}

// CheckExternal refuses an event from outside zeroflow that carries a
// reserved type or extension: external events are data, never control.
// The error lists every reserved attribute, each a *ReservedError.
func CheckExternal(ev event.Event) error {
	var errs []error
	if ReservedType(ev.Type()) {
		errs = append(errs, &ReservedError{Attribute: "type", Value: ev.Type()})
	}
	exts := ev.Extensions()
	names := make([]string, 0, len(exts))
	for name := range exts {
		if ReservedExtension(name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		errs = append(errs, &ReservedError{Attribute: name, Value: Extension(ev, name)})
	}
	return errors.Join(errs...)
}
