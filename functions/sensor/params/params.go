// Package params resolves Sensor trigger parameters from the events that
// fired a trigger and applies them to JSON documents, with the semantics of
// Argo Events (pkg/sensors/triggers/params.go). It is pure: it performs no
// I/O and keeps no state, so the sensor runtime and `zeroflow lint` share it.
//
// A parameter's value comes from the event of its dependency: from the data
// (dataTemplate, then dataKey) or, when no data selector is set, from the
// context (contextTemplate, then contextKey); src.value is the default. The
// value is then written at dest with sjson (Apply), or used to build an HTTP
// body from nothing (Payload).
package params

import (
	"errors"
	"fmt"
	"text/template"

	"github.com/Masterminds/sprig/v3"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// Value is a resolved value: its text and whether it is JSON to insert raw
// (a number, bool, object, array, null) rather than a string.
type Value struct {
	Text string
	JSON bool
}

// Operations a parameter may perform at its dest. The empty operation is
// overwrite.
const (
	OpOverwrite = "overwrite"
	OpAppend    = "append"
	OpPrepend   = "prepend"
)

// noValue is what text/template prints for a missing map key under
// missingkey=default; Argo treats it, like "", as a template that failed.
const noValue = "<no value>"

// parseTemplate parses a contextTemplate or dataTemplate. Resolve and Check
// both use it so that lint accepts exactly what the runtime can run.
func parseTemplate(text string) (*template.Template, error) {
	return template.New("param").Funcs(funcMap()).Option("missingkey=default").Parse(text)
}

// funcMap is sprig's text/template functions without those that reach
// outside the template. Sensor authors, not event senders, write templates,
// but the sensor may run in a process it shares with others, whose
// environment can hold credentials (env, expandenv), and a template should
// not make network requests (getHostByName). The functions whose result
// size an argument (perhaps the event's) chooses are sized first (budgeted).
// A new map per call keeps the package free of mutable state.
func funcMap() template.FuncMap {
	fm := sprig.TxtFuncMap()
	for _, name := range []string{"env", "expandenv", "getHostByName"} {
		delete(fm, name)
	}
	budgeted(fm)
	return fm
}

// Check validates parameters statically, for zeroflow lint: src is present,
// src.dependencyName is set and is one of deps, both templates parse, dest is
// set when requireDest (everywhere but an http payload, where an empty dest
// is the whole body) and the operation is known. path is the field path of
// the list, e.g. "spec.triggers[0].template.k8s.parameters"; each error
// names its field below it, e.g. "<path>[1].src.dataTemplate: ...". All
// problems are reported, joined.
func Check(params []v1alpha1.TriggerParameter, deps map[string]bool, path string, requireDest bool) error {
	var errs []error
	for i := range params {
		p := &params[i]
		at := fmt.Sprintf("%s[%d]", path, i)
		fail := func(field, format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s.%s: %s", at, field, fmt.Sprintf(format, args...)))
		}
		if src := p.Src; src == nil {
			fail("src", "required: name the dependency whose event gives the value")
		} else {
			switch {
			case src.DependencyName == "":
				fail("src.dependencyName", "required")
			case !deps[src.DependencyName]:
				fail("src.dependencyName", "%q is not a dependency of the sensor", src.DependencyName)
			}
			for _, t := range []struct{ field, text string }{
				{"src.contextTemplate", src.ContextTemplate},
				{"src.dataTemplate", src.DataTemplate},
			} {
				if t.text == "" {
					continue
				}
				if _, err := parseTemplate(t.text); err != nil {
					fail(t.field, "%v", err)
				}
			}
		}
		if requireDest && p.Dest == "" {
			fail("dest", "required: an sjson path into the target, e.g. metadata.name")
		}
		switch p.Operation {
		case "", OpOverwrite, OpAppend, OpPrepend:
		default:
			fail("operation", "%q is not one of overwrite, append, prepend", p.Operation)
		}
	}
	return errors.Join(errs...)
}
