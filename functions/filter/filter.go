// Package filter decides whether an event passes the filters of a Sensor
// dependency, with the semantics of Argo Events: the groups exprs, data,
// context and time, evaluated in that order and combined by
// filtersLogicalOperator; data filters on gjson paths, with unanchored
// regular expressions for strings and values that are always ORed; exprs on
// named gjson paths; the context matched exactly; a daily window on the
// event's time.
//
// Compile checks a dependency once and reports every problem with its field
// path (e.g. "filters.data[1].value[0]: ..."), so that `zeroflow lint` can use
// it; the result is immutable and safe for concurrent Match calls.
//
// Where zeroflow deliberately differs from Argo:
//   - filtersLogicalOperator "or": a group that fails with an error counts as
//     false for that group only, as Argo's docs say. Argo's code rejects the
//     whole event on any error. With "or" and no group configured the event
//     passes (Argo: it fails).
//   - "and" stops at the first group, data filter or expr that fails, where
//     Argo evaluates the remaining groups; whether the event passes is the
//     same, only the error reported for a rejected event can differ.
//   - A number filter on a value that is not a number (a non-numeric string,
//     a boolean, null, an object) is an error; Argo compares it as 0 (or 1
//     for true), so that "abc" would equal 0.
//   - A bool filter takes JSON booleans and the strings strconv.ParseBool
//     accepts, nothing else (Argo also takes numbers), and "!=" negates it
//     (Argo ignores the comparator).
//   - Comparators that do not apply to a type, unknown types and operators,
//     invalid values, regular expressions, templates, expressions, clocks and
//     time zones are errors when compiling; Argo finds some of them only when
//     an event comes, and silently fails string filters with a numeric
//     comparator.
//   - Exprs run on expr-lang instead of govaluate. The govaluate operators
//     used in Argo's docs (=~, !~, IN (…)) are rewritten; a name the
//     expression uses that no field binds is a compile error, and an expr
//     without fields is rejected (Argo skips it).
//   - Templates get sprig's functions except env and expandenv, which would
//     let a Sensor read the environment of the process that filters.
package filter

import (
	"errors"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/tidwall/gjson"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// Match reports whether ev passes dep's filters. err explains a filter that
// could not be evaluated (the event then does not pass).
func Match(dep *v1alpha1.EventDependency, ev event.Event) (bool, error) {
	c, err := Compile(dep)
	if err != nil {
		return false, err
	}
	return c.Match(ev)
}

// Compiled is a dependency's filters, checked and prepared. It is never
// changed after Compile, so Match may run concurrently.
type Compiled struct {
	or     bool
	groups []matcher
}

// matcher is one configured group of filters. Its errors carry the field
// path of what failed.
type matcher interface {
	match(in *input) (bool, error)
}

// Compile checks and prepares a dependency's filters once (regexps,
// templates, expr programs, time windows); Match may then be called many
// times concurrently on the result. The error lists every problem found.
func Compile(dep *v1alpha1.EventDependency) (*Compiled, error) {
	c := &Compiled{}
	if dep == nil {
		return c, nil
	}
	var errs []error
	or, err := isOr(dep.FiltersLogicalOperator, "filtersLogicalOperator")
	errs = append(errs, err)
	c.or = or
	if f := dep.Filters; f != nil {
		errs = append(errs, c.compileGroups(f)...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// compileGroups adds the configured groups in Argo's order: exprs, data,
// context, time.
func (c *Compiled) compileGroups(f *v1alpha1.EventDependencyFilter) []error {
	var errs []error
	if len(f.Exprs) > 0 {
		g, err := compileExprs(f.Exprs, f.ExprLogicalOperator)
		errs = append(errs, err)
		c.groups = append(c.groups, g)
	} else if _, err := isOr(f.ExprLogicalOperator, "filters.exprLogicalOperator"); err != nil {
		errs = append(errs, err)
	}
	if len(f.Data) > 0 {
		g, err := compileData(f.Data, f.DataLogicalOperator)
		errs = append(errs, err)
		c.groups = append(c.groups, g)
	} else if _, err := isOr(f.DataLogicalOperator, "filters.dataLogicalOperator"); err != nil {
		errs = append(errs, err)
	}
	if f.Context != nil {
		c.groups = append(c.groups, contextFilter(*f.Context))
	}
	if f.Time != nil {
		g, err := compileTime(f.Time)
		errs = append(errs, err)
		c.groups = append(c.groups, g)
	}
	return errs
}

// Match reports whether ev passes the filters. err explains a filter that
// could not be evaluated (the event then does not pass).
func (c *Compiled) Match(ev event.Event) (bool, error) {
	in := &input{ev: ev}
	return combine(c.or, len(c.groups), func(i int) (bool, error) {
		return c.groups[i].match(in)
	})
}

// combine evaluates n filters under a logical operator. "and" stops at the
// first filter that fails or errs. "or" passes at the first filter that
// passes, forgetting earlier errors, as Argo does for data filters; when
// none passes, the errors are joined, since each may be why. With no filter
// both pass: nothing was required.
func combine(or bool, n int, match func(i int) (bool, error)) (bool, error) {
	var errs []error
	for i := range n {
		ok, err := match(i)
		switch {
		case err != nil && !or:
			return false, err
		case err != nil:
			errs = append(errs, err)
		case ok && or:
			return true, nil
		case !ok && !or:
			return false, nil
		}
	}
	if or && n > 0 {
		return false, errors.Join(errs...)
	}
	return true, nil
}

func isOr(op v1alpha1.LogicalOperator, field string) (bool, error) {
	switch op {
	case "", v1alpha1.And:
		return false, nil
	case v1alpha1.Or:
		return true, nil
	}
	return false, fmt.Errorf("%s: unknown logical operator %q (want %q or %q)", field, op, v1alpha1.And, v1alpha1.Or)
}

// errNotJSON is shared by the data and expr groups, which both read paths
// in the data.
var errNotJSON = errors.New("event data is not valid JSON")

// input is one event being matched. It remembers whether the data is valid
// JSON, so that the data and expr groups check it once.
type input struct {
	ev      event.Event
	checked bool
	valid   bool
}

// json returns the event's data, nil when it has none: Argo lets an event
// without data pass the data and expr groups.
func (in *input) json() ([]byte, error) {
	data := in.ev.Data()
	if len(data) == 0 {
		return nil, nil
	}
	if !in.checked {
		in.valid = gjson.ValidBytes(data)
		in.checked = true
	}
	if !in.valid {
		return nil, errNotJSON
	}
	return data, nil
}
