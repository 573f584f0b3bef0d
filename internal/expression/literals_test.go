package expression

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zeroflow-dev/zeroflow/internal/interpolate"
)

// values resolves {{name}} from m and keeps other tags as written.
func values(m map[string]string) interpolate.Resolver {
	return func(t interpolate.Tag) (string, bool, error) {
		v, ok := m[t.Text]
		return v, !ok, nil
	}
}

func TestSubstituteLiterals(t *testing.T) {
	response := func(status int, body string) map[string]any {
		return map[string]any{"response": map[string]any{"statusCode": status, "body": body}}
	}
	cases := []struct {
		name   string
		cond   string
		values map[string]string
		env    map[string]any
		want   bool
		code   string // the substituted code, when checked
	}{
		{name: "the bomb in single quotes is a string", cond: `response.body == '{{x}}'`, values: map[string]string{"x": bomb},
			env: response(200, "ok"), want: false, code: `response.body == 'x\' + repeat(repeat(\'x\', 999999), 1000000) + \''`},
		{name: "the bomb in single quotes equals itself", cond: `response.body == '{{x}}'`, values: map[string]string{"x": bomb},
			env: response(200, bomb), want: true},
		{name: "the bomb in double quotes", cond: `response.body == "{{x}}"`, values: map[string]string{"x": `x" + repeat(repeat("x", 999999), 1000000) + "`},
			env: response(200, `x" + repeat(repeat("x", 999999), 1000000) + "`), want: true},
		{name: "the bomb out of quotes is a string", cond: `response.body == {{x}}`, values: map[string]string{"x": bomb},
			env: response(200, bomb), want: true},
		{name: "code out of quotes is a string", cond: `{{x}}`, values: map[string]string{"x": "true || true"},
			code: `"true || true"`},
		{name: "a number compares as a number (Argo)", cond: `response.statusCode == {{code}}`, values: map[string]string{"code": "200"},
			env: response(200, ""), want: true, code: `response.statusCode == 200`},
		{name: "a float", cond: `{{f}} > 2.25`, values: map[string]string{"f": "2.5"}, want: true, code: `2.5 > 2.25`},
		{name: "a float stays a float", cond: `{{f}}`, values: map[string]string{"f": "5.0"}, code: `5.0`},
		{name: "a negative number is one operand", cond: `1-{{x}} == 6`, values: map[string]string{"x": "-5"}, want: true, code: `1-(-5) == 6`},
		{name: "a boolean", cond: `!{{b}}`, values: map[string]string{"b": "false"}, want: true},
		{name: "a tag glued to a word is one literal", cond: `{{x}}abc == "5abc"`, values: map[string]string{"x": "5"}, want: true},
		{name: "contains over a quoted value (Argo's example)", cond: `response.body contains "{{word}}"`, values: map[string]string{"word": "goo"},
			env: response(200, "google"), want: true},
		{name: "backticks are doubled in a raw string", cond: "response.body == `{{x}}`", values: map[string]string{"x": "a` + repeat('x', 10) + `"},
			env: response(200, "a` + repeat('x', 10) + `"), want: true},
		{name: "a backslash before a tag stays a backslash", cond: `response.body == 'a\{{x}}'`, values: map[string]string{"x": `' || true || '`},
			env: response(200, "ok"), want: false},
		{name: "the author's escapes are kept", cond: `'it\'s {{x}}' == "it's ok"`, values: map[string]string{"x": "ok"}, want: true},
		{name: "newline, carriage return, tab and control bytes", cond: `'{{x}}' == "a\nb\rc\td\x01e"`, values: map[string]string{"x": "a\nb\rc\td\x01e"}, want: true},
		{name: "a value in a block comment is dropped", cond: `/* {{x}} */ true`, values: map[string]string{"x": "*/ false && /*"}, want: true,
			code: `/*  */ true`},
		{name: "a value in a line comment is dropped", cond: "true // {{x}}", values: map[string]string{"x": "\n && false"}, want: true},
		{name: "a quote in a comment opens nothing", cond: "/* it's */ '{{x}}' == 'a\\'b'", values: map[string]string{"x": "a'b"}, want: true},
		{name: "a value holding a tag stays text", cond: `response.body == '{{x}}'`, values: map[string]string{"x": "{{= repeat('x', 10) }}"},
			env: response(200, "{{= repeat('x', 10) }}"), want: true},
		{name: "an unknown tag stays as written", cond: `'{{other}}' == '{{' + 'other}}'`, want: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, err := SubstituteLiterals(c.cond, values(c.values))
			if err != nil {
				t.Fatalf("SubstituteLiterals: %v", err)
			}
			if c.code != "" && code != c.code {
				t.Errorf("code = %s, want %s", code, c.code)
			}
			if c.code != "" && c.env == nil && !c.want {
				// Only the code is checked (it need not be a boolean).
				if _, err := Eval(code, nil); err != nil {
					t.Errorf("Eval(%s): %v", code, err)
				}
				return
			}
			got, err := EvalBool(code, c.env)
			if err != nil {
				t.Fatalf("EvalBool(%s): %v", code, err)
			}
			if got != c.want {
				t.Errorf("%s = %v, want %v", code, got, c.want)
			}
		})
	}
}

// FuzzSubstituteLiterals: whatever the value, in each position it reads
// back as itself (out of quotes: as its literal), never as code.
func FuzzSubstituteLiterals(f *testing.F) {
	for _, s := range []string{bomb, `"`, `\`, "`", "``", "\r\n", "*/", "//", "\x00", "\xff", "{{x}}", "-1", "1e21", "true", " 5 ", "it's", `\'`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		want := strings.ToValidUTF8(v, "\uFFFD")
		for _, cond := range []string{`'{{x}}'`, `"{{x}}"`, "`{{x}}`", `b + '{{x}}'`} {
			code, err := SubstituteLiterals(cond, values(map[string]string{"x": v}))
			if err != nil {
				t.Fatalf("%s: %v", cond, err)
			}
			got, err := Eval(code, map[string]any{"b": ""})
			if errors.Is(err, ErrBudget) && len(code) > MaxLength {
				// Escapes grow the code; MaxLength refuses it cleanly.
				continue
			}
			if err != nil {
				t.Fatalf("%s with %q → %s: %v", cond, v, code, err)
			}
			w := want
			if cond == "`{{x}}`" {
				// Raw strings keep bytes as they are, and newlines.
				w = v
			}
			if got != w && utf8.ValidString(v) {
				t.Fatalf("%s with %q → %s = %q", cond, v, code, got)
			}
		}
		code, err := SubstituteLiterals(`{{x}} == {{x}}`, values(map[string]string{"x": v}))
		if err != nil {
			t.Fatalf("out of quotes: %v", err)
		}
		if strings.TrimSpace(v) == "" {
			return
		}
		// A value is one literal: equal to itself, whatever its text
		// (NaN aside, which a value cannot spell).
		got, err := Eval(code, nil)
		if errors.Is(err, ErrBudget) && len(code) > MaxLength {
			return
		}
		if err != nil {
			t.Fatalf("%q → %s: %v", v, code, err)
		}
		if got != true {
			t.Fatalf("%q → %s = %v", v, code, got)
		}
	})
}

func TestCheckWithTags(t *testing.T) {
	for _, code := range []string{
		`response.statusCode == {{inputs.parameters.code}}`,
		`response.body == '{{inputs.parameters.x}}'`,
		`response.statusCode == {{= asInt(inputs.parameters.code) }}`,
		`response.statusCode == 200`,
	} {
		if err := CheckWithTags(code); err != nil {
			t.Errorf("CheckWithTags(%s): %v", code, err)
		}
	}
	for _, code := range []string{
		`response.statusCode == == {{inputs.parameters.code}}`,
		`response.statusCode == {{= asInt( }}`,
		`response.body == '{{x`,
	} {
		if err := CheckWithTags(code); err == nil {
			t.Errorf("CheckWithTags(%s) = nil, want an error", code)
		}
	}
}
