package filter_test

import (
	"testing"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/filter"
)

// FuzzMatch feeds arbitrary paths, filter values and event data through
// every kind of data filter, a template and an expr. Match must never panic,
// and an event that passes has no error.
func FuzzMatch(f *testing.F) {
	f.Add("body.action", "opened", []byte(payload))
	f.Add("body.number", "42", []byte(payload))
	f.Add("body.merged", "true", []byte(payload))
	f.Add(`body.labels.#(name=="bug").name`, "^bug$", []byte(payload))
	f.Add("a|@reverse", ".*", []byte(`{"a":[1,2]}`))
	f.Add("..0", "(", []byte(`[{"a":1}]`))
	f.Add("@this", "", []byte(`"x"`))
	f.Add("a", "1", []byte(`{"a":`))
	f.Add("", "x", []byte(nil))
	f.Fuzz(func(t *testing.T, path, value string, data []byte) {
		ev := newEvent("", noon)
		ev.SetDataContentType("application/json")
		ev.DataEncoded = data
		var filters []*v1alpha1.EventDependencyFilter
		for _, typ := range []v1alpha1.JSONType{v1alpha1.JSONTypeString, v1alpha1.JSONTypeNumber, v1alpha1.JSONTypeBool} {
			for _, cmp := range []v1alpha1.Comparator{"", "!=", ">="} {
				filters = append(filters, data1(dataFilter(typ, path, cmp, value)))
			}
		}
		filters = append(filters,
			data1(tmpl(str(path, "", value), "{{ .Input }}"+value)),
			exprs(v1alpha1.Or, ex("v == v", "v", path), ex(`v =~ "x"`, "v", path)),
		)
		for _, fs := range filters {
			for _, op := range []v1alpha1.LogicalOperator{v1alpha1.And, v1alpha1.Or} {
				dep := &v1alpha1.EventDependency{Filters: fs, FiltersLogicalOperator: op}
				ok, err := filter.Match(dep, ev)
				if ok && err != nil {
					t.Fatalf("Match passed with an error: %v", err)
				}
			}
		}
	})
}

func data1(f v1alpha1.DataFilter) *v1alpha1.EventDependencyFilter { return data("", f) }
