// Package expression evaluates every expression of zeroflow with expr-lang:
// {{= }} tags, `when`, `depends`, retry expressions and output expressions.
// Values follow Argo: variables are strings, and results render as the raw
// string or as compact JSON.
package expression

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
	"github.com/tidwall/gjson"
)

// functions are Argo's additions to the expression language. expr's own
// builtins (len, upper, split, toJSON, fromJSON, int, float, …) are there too.
func functions() []expr.Option {
	return []expr.Option{
		expr.Function("asInt", func(params ...any) (any, error) {
			return toNumber(params, "asInt", true)
		}),
		expr.Function("asFloat", func(params ...any) (any, error) {
			return toNumber(params, "asFloat", false)
		}),
		expr.Function("toJson", func(params ...any) (any, error) {
			if len(params) != 1 {
				return nil, fmt.Errorf("toJson takes 1 argument, got %d", len(params))
			}
			b, err := json.Marshal(params[0])
			return string(b), err
		}),
		expr.Function("jsonpath", func(params ...any) (any, error) {
			if len(params) != 2 {
				return nil, fmt.Errorf("jsonpath takes 2 arguments (json, path), got %d", len(params))
			}
			doc, ok1 := params[0].(string)
			path, ok2 := params[1].(string)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("jsonpath takes two strings")
			}
			if !gjson.Valid(doc) {
				return nil, fmt.Errorf("jsonpath: the document is not valid JSON")
			}
			r := gjson.Get(doc, GJSONPath(path))
			if !r.Exists() {
				return nil, nil
			}
			return r.Value(), nil
		}),
	}
}

func toNumber(params []any, name string, integer bool) (any, error) {
	if len(params) != 1 {
		return nil, fmt.Errorf("%s takes 1 argument, got %d", name, len(params))
	}
	var f float64
	switch v := params[0].(type) {
	case string:
		if _, err := fmt.Sscan(strings.TrimSpace(v), &f); err != nil {
			return nil, fmt.Errorf("%s(%q): not a number", name, v)
		}
	case int:
		f = float64(v)
	case int64:
		f = float64(v)
	case float64:
		f = v
	default:
		return nil, fmt.Errorf("%s: cannot convert %T", name, v)
	}
	if integer {
		if f != float64(int(f)) {
			return nil, fmt.Errorf("%s(%v): not an integer", name, params[0])
		}
		return int(f), nil
	}
	return f, nil
}

// GJSONPath accepts Argo's JSONPath form ("$.a.b[0]") as well as gjson's
// ("a.b.0") and returns the gjson form.
func GJSONPath(p string) string {
	p = strings.TrimPrefix(p, "$")
	p = strings.TrimPrefix(p, ".")
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '[':
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				b.WriteString(p[i:])
				return b.String()
			}
			idx := strings.Trim(p[i+1:i+end], `'"`)
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(idx)
			i += end
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Compile compiles code for Run, with zeroflow's functions and its budget
// (MaxLength, MaxNodes, metered builtins). env declares the variables, as
// expr.Env does; more options may follow.
func Compile(code string, env any, opts ...expr.Option) (*vm.Program, error) {
	if err := checkLength(code); err != nil {
		return nil, err
	}
	all := append([]expr.Option{expr.Env(withMeter(env))}, functions()...)
	all = append(all, opts...)
	return expr.Compile(code, append(all, budgetOptions()...)...)
}

// withMeter declares the meter next to the caller's variables, so that the
// patched calls type-check.
func withMeter(env any) any {
	switch e := env.(type) {
	case map[string]any:
		out := make(map[string]any, len(e)+1)
		for k, v := range e {
			out[k] = v
		}
		out[meterName] = newMeter()
		return out
	case types.Map:
		out := make(types.Map, len(e)+1)
		for k, v := range e {
			out[k] = v
		}
		out[meterName] = types.Any
		return out
	case nil:
		return map[string]any{meterName: newMeter()}
	}
	return env
}

// Run evaluates a program of Compile within MemoryBudget and TimeBudget.
// env is not modified. An evaluation over budget returns an error that
// wraps ErrBudget.
func Run(program *vm.Program, env map[string]any) (any, error) {
	own := make(map[string]any, len(env)+1)
	for k, v := range env {
		own[k] = v
	}
	return run(program, own)
}

// Eval evaluates code against env.
func Eval(code string, env map[string]any) (any, error) {
	program, err := Compile(code, env)
	if err != nil {
		return nil, fmt.Errorf("compile expression %q: %w", clip(code), err)
	}
	out, err := Run(program, env)
	if err != nil {
		return nil, fmt.Errorf("evaluate expression %q: %w", clip(code), err)
	}
	return out, nil
}

// EvalBool evaluates code, which must give a boolean.
func EvalBool(code string, env map[string]any) (bool, error) {
	out, err := Eval(code, env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("expression %q gave %v (%T), not a boolean", clip(code), out, out)
	}
	return b, nil
}

// Check reports syntax errors in code. Unknown variables are allowed: they
// are only known when the expression runs.
func Check(code string) error {
	if err := checkLength(code); err != nil {
		return fmt.Errorf("invalid expression %q: %w", clip(code), err)
	}
	opts := append(functions(), budgetOptions()...)
	if _, err := expr.Compile(code, opts...); err != nil {
		return fmt.Errorf("invalid expression %q: %w", code, err)
	}
	return nil
}

// clip shortens code for a message, which may end up in a status.
func clip(code string) string {
	const max = 200
	if len(code) <= max {
		return code
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(code[cut]) {
		cut--
	}
	return code[:cut] + "…"
}

// Render turns an expression result into text as Argo does: a string as is,
// anything else as compact JSON. nil is an error: the expression gave nothing.
func Render(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", fmt.Errorf("expression gave no value (nil)")
	case string:
		return x, nil
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return "", fmt.Errorf("render expression result: %w", err)
		}
		return string(b), nil
	}
}

// Expand turns flat dotted keys into nested maps, the form expressions read
// (inputs.parameters.x → inputs → parameters → x). When both "k" and "k.x"
// exist, "k" is dropped, as in Argo; the result does not depend on order.
func Expand(flat map[string]string) map[string]any {
	root := map[string]any{}
	for key, value := range flat {
		parts := strings.Split(key, ".")
		m := root
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				// Replaces a leaf, if any: the more specific key wins.
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		last := parts[len(parts)-1]
		if _, nested := m[last].(map[string]any); nested {
			continue
		}
		m[last] = value
	}
	return root
}
