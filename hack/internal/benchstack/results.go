package benchstack

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Results holds every run's value of each measurement, in the order the
// measurements were first recorded, so that the table reads in the order
// the bench takes them.
type Results struct {
	order  []string
	values map[string][]float64
}

// NewResults returns an empty Results.
func NewResults() *Results {
	return &Results{values: map[string][]float64{}}
}

// Record adds one run's value of the measurement name.
func (r *Results) Record(name string, v float64) {
	if _, ok := r.values[name]; !ok {
		r.order = append(r.order, name)
	}
	r.values[name] = append(r.values[name], v)
}

// WriteTable writes a markdown table of each measurement's median and all
// its values in run order, each written by format. The median of an even
// number of runs is the upper middle one: a value that was measured.
func (r *Results) WriteTable(w io.Writer, format func(float64) string) error {
	var b strings.Builder
	b.WriteString("| measurement | median | runs |\n")
	b.WriteString("|---|---:|---|\n")
	for _, name := range r.order {
		vals := r.values[name]
		sorted := append([]float64(nil), vals...)
		sort.Float64s(sorted)
		all := make([]string, len(vals))
		for i, v := range vals {
			all[i] = format(v)
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", name, format(sorted[len(sorted)/2]), strings.Join(all, ", "))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write results table: %w", err)
	}
	return nil
}
