package params

import (
	"strings"
	"testing"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// TestTemplateBudget: numbers and strings of the event cannot make a
// template allocate or run without bound; within the budget the functions
// are sprig's.
func TestTemplateBudget(t *testing.T) {
	events := firedWith("application/json", `{"n": 1000000000000, "small": 3, "neg": -1000000000000, "s": "`+strings.Repeat("x", 100)+`"}`)
	cases := []struct {
		name, template string
		want           string // the value, or a substring of the error
		err            bool
	}{
		{name: "repeat within the budget", template: `{{ repeat (int .Input.small) "ab" }}`, want: "ababab"},
		{name: "repeat over the budget", template: `{{ repeat (int .Input.n) "x" }}`, want: "repeat: template budget exceeded", err: true},
		{name: "until over the budget", template: `{{ range until (int .Input.n) }}x{{ end }}`, want: "until: template budget exceeded", err: true},
		{name: "negative until over the budget", template: `{{ len (until (int .Input.neg)) }}`, want: "MemoryBudget", err: true},
		{name: "untilStep over the budget", template: `{{ len (untilStep 0 (int .Input.n) 1) }}`, want: "untilStep", err: true},
		{name: "seq over the budget", template: `{{ seq 1 (int .Input.n) }}`, want: "seq", err: true},
		{name: "seq within", template: `{{ seq (int .Input.small) }}`, want: "1 2 3"},
		{name: "random strings over the budget", template: `{{ randAlpha (int .Input.n) }}`, want: "randAlpha", err: true},
		{name: "randBytes over the budget", template: `{{ randBytes (int .Input.n) }}`, want: "randBytes", err: true},
		{name: "indent over the budget", template: `{{ indent (int .Input.n) "x" }}`, want: "indent", err: true},
		{name: "replace that multiplies", template: `{{ replace "" (repeat 100000 "y") .Input.s }}`, want: "replace", err: true},
		{name: "replace within", template: `{{ replace "x" "y" "axb" }}`, want: "ayb"},
		{name: "output past its bound", template: `{{ range until 1000000 }}{{ $.Input.s }}{{ end }}`, want: "the output is more than", err: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			v, ok, err := Resolve(&v1alpha1.TriggerParameterSource{DependencyName: "d", DataTemplate: c.template}, events)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
			if c.err {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("Resolve = %q, %v, %v; want an error with %q", v.Text, ok, err, c.want)
				}
				return
			}
			if err != nil || v.Text != c.want {
				t.Fatalf("Resolve = %q, %v; want %q", v.Text, err, c.want)
			}
		})
	}
	// A budget error falls back to src.value, as any template error does.
	v, ok, err := Resolve(&v1alpha1.TriggerParameterSource{DependencyName: "d", DataTemplate: `{{ repeat (int .Input.n) "x" }}`, Value: str("fallback")}, events)
	if err != nil || !ok || v.Text != "fallback" {
		t.Errorf("fallback: %q %v %v", v.Text, ok, err)
	}
}

// TestBudgetedFunctionsExist: every sized function kept sprig's signature;
// a change would remove it (fail closed) and show here.
func TestBudgetedFunctionsExist(t *testing.T) {
	fm := funcMap()
	for _, name := range []string{"repeat", "replace", "indent", "nindent", "wrapWith", "until", "untilStep", "seq", "randAlphaNum", "randAlpha", "randAscii", "randNumeric", "randBytes"} {
		if fm[name] == nil {
			t.Errorf("%s is missing: its sprig signature changed", name)
		}
	}
}
