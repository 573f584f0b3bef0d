package filter

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/tidwall/gjson"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// dataGroup is the data filters, combined by dataLogicalOperator.
type dataGroup struct {
	or      bool
	filters []*dataFilter
}

// dataFilter is one data filter. Its values are parsed for its type: only
// the slice of that type is set.
type dataFilter struct {
	field    string // e.g. filters.data[1], to name it in errors
	path     string
	kind     v1alpha1.JSONType
	cmp      v1alpha1.Comparator
	negate   bool // "!=" for strings and booleans
	template *template.Template
	regexps  []*regexp.Regexp
	numbers  []float64
	bools    []bool
}

func compileData(filters []v1alpha1.DataFilter, op v1alpha1.LogicalOperator) (*dataGroup, error) {
	var errs []error
	or, err := isOr(op, "filters.dataLogicalOperator")
	errs = append(errs, err)
	g := &dataGroup{or: or}
	for i := range filters {
		f, err := compileDataFilter(&filters[i], fmt.Sprintf("filters.data[%d]", i))
		errs = append(errs, err)
		g.filters = append(g.filters, f)
	}
	return g, errors.Join(errs...)
}

func compileDataFilter(spec *v1alpha1.DataFilter, field string) (*dataFilter, error) {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(field+format, args...))
	}
	f := &dataFilter{field: field, path: spec.Path, kind: spec.Type, cmp: spec.Comparator}
	if spec.Path == "" {
		fail(".path: must not be empty")
	}
	if len(spec.Value) == 0 {
		fail(".value: at least one value is required")
	}
	if spec.Template != "" {
		// Named after its field: text/template's errors name the template.
		t, err := template.New(field + ".template").Funcs(templateFuncs()).Parse(spec.Template)
		if err != nil {
			fail(": %w", err)
		}
		f.template = t
	}
	switch spec.Type {
	case v1alpha1.JSONTypeString, v1alpha1.JSONTypeBool:
		switch spec.Comparator {
		case "", "=":
		case "!=":
			f.negate = true
		default:
			fail(".comparator: %q does not apply to type %s (use \"=\" or \"!=\")", spec.Comparator, spec.Type)
		}
	case v1alpha1.JSONTypeNumber:
		switch spec.Comparator {
		case "", "=", "!=", ">", ">=", "<", "<=":
		default:
			fail(".comparator: unknown comparator %q (use =, !=, >, >=, < or <=)", spec.Comparator)
		}
	default:
		fail(".type: unsupported type %q (use string, number or bool)", spec.Type)
	}
	for j, v := range spec.Value {
		switch spec.Type {
		case v1alpha1.JSONTypeString:
			re, err := regexp.Compile(v)
			if err != nil {
				fail(".value[%d]: invalid regular expression %q: %w", j, v, err)
			}
			f.regexps = append(f.regexps, re)
		case v1alpha1.JSONTypeNumber:
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				fail(".value[%d]: %q is not a number", j, v)
			}
			f.numbers = append(f.numbers, n)
		case v1alpha1.JSONTypeBool:
			b, err := strconv.ParseBool(v)
			if err != nil {
				fail(".value[%d]: %q is not a boolean (use true or false)", j, v)
			}
			f.bools = append(f.bools, b)
		}
	}
	return f, errors.Join(errs...)
}

// templateFuncs is sprig without the functions that read the environment:
// templates come from Sensors, and the process that filters may hold
// credentials in its environment.
func templateFuncs() template.FuncMap {
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	return funcs
}

func (g *dataGroup) match(in *input) (bool, error) {
	data, err := in.json()
	if err != nil {
		return false, fmt.Errorf("filters.data: %w", err)
	}
	if data == nil {
		return true, nil
	}
	return combine(g.or, len(g.filters), func(i int) (bool, error) {
		return g.filters[i].match(data)
	})
}

func (f *dataFilter) match(data []byte) (bool, error) {
	ok, err := f.compare(data)
	if err != nil {
		return false, fmt.Errorf("%s: %w", f.field, err)
	}
	return ok, nil
}

func (f *dataFilter) compare(data []byte) (bool, error) {
	v := gjson.GetBytes(data, f.path)
	if !v.Exists() {
		return false, fmt.Errorf("path %q does not exist", f.path)
	}
	if f.template != nil {
		out, err := f.render(v)
		if err != nil {
			return false, err
		}
		// Argo's docs: the value is a string before the template and is
		// cast to the filter's type after it.
		v = gjson.Result{Type: gjson.String, Str: out}
	}
	// The values are ORed, "!=" included: with "!=" and two values, a value
	// equal to one of them still passes, as in Argo.
	switch f.kind {
	case v1alpha1.JSONTypeString:
		s := v.String()
		for _, re := range f.regexps {
			if re.MatchString(s) != f.negate {
				return true, nil
			}
		}
	case v1alpha1.JSONTypeNumber:
		n, err := number(v)
		if err != nil {
			return false, fmt.Errorf("path %q: %w", f.path, err)
		}
		for _, want := range f.numbers {
			if compareNumbers(n, f.cmp, want) {
				return true, nil
			}
		}
	case v1alpha1.JSONTypeBool:
		b, err := boolean(v)
		if err != nil {
			return false, fmt.Errorf("path %q: %w", f.path, err)
		}
		for _, want := range f.bools {
			if (b == want) != f.negate {
				return true, nil
			}
		}
	}
	return false, nil
}

func (f *dataFilter) render(v gjson.Result) (string, error) {
	var out strings.Builder
	if err := f.template.Execute(&out, map[string]any{"Input": v.String()}); err != nil {
		return "", err
	}
	s := out.String()
	if s == "" || s == "<no value>" {
		return "", fmt.Errorf("template gave no value (%q) for path %q", s, f.path)
	}
	return s, nil
}

// number reads a JSON number or a numeric string. Argo (gjson's Float) reads
// anything else as 0, which would let "abc" equal 0; here it is an error.
func number(v gjson.Result) (float64, error) {
	switch v.Type {
	case gjson.Number:
		return v.Num, nil
	case gjson.String:
		n, err := strconv.ParseFloat(v.Str, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", v.Str)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%s is not a number", describe(v))
}

// boolean reads a JSON boolean or a string strconv.ParseBool accepts.
func boolean(v gjson.Result) (bool, error) {
	switch v.Type {
	case gjson.True, gjson.False:
		return v.Bool(), nil
	case gjson.String:
		b, err := strconv.ParseBool(v.Str)
		if err != nil {
			return false, fmt.Errorf("%q is not a boolean", v.Str)
		}
		return b, nil
	}
	return false, fmt.Errorf("%s is not a boolean", describe(v))
}

// describe shows a value in an error, shortened: it comes from an event and
// may be a large object.
func describe(v gjson.Result) string {
	const limit = 64
	s := v.Raw
	if s == "" {
		s = v.String()
	}
	if len(s) > limit {
		s = strings.ToValidUTF8(s[:limit], "") + "…"
	}
	return s
}

func compareNumbers(n float64, cmp v1alpha1.Comparator, want float64) bool {
	switch cmp {
	case ">":
		return n > want
	case ">=":
		return n >= want
	case "<":
		return n < want
	case "<=":
		return n <= want
	case "!=":
		return n != want
	}
	return n == want
}
