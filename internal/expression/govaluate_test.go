package expression

import (
	"testing"

	"github.com/expr-lang/expr"
)

func TestFromGovaluate(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{in: `a == "b"`, want: `a == "b"`},
		{in: `action =~ "start"`, want: `action  matches  "start"`},
		{in: `action !~ "^st"`, want: `action  not matches  "^st"`},
		{in: `a=~'x'`, want: `a matches 'x'`},
		{in: `x IN ("a", "b")`, want: `x in ["a", "b"]`},
		{in: `x in (1, 2)`, want: `x in [1, 2]`},
		{in: `x In(1)`, want: `x in [1]`},
		{in: `(x IN (1, (2))) && (y > 1)`, want: `(x in [1, (2)]) && (y > 1)`},
		{in: `x IN (1) || y IN ("a")`, want: `x in [1] || y in ["a"]`},
		{in: `x in [1, 2]`, want: `x in [1, 2]`},
		{in: `inside (1)`, want: `inside (1)`},
		{in: `m.in(1)`, want: `m.in(1)`},
		{in: `"a =~ b" == s`, want: `"a =~ b" == s`},
		{in: `'IN (x)' == s`, want: `'IN (x)' == s`},
		{in: `"esc \" =~ " == s`, want: `"esc \" =~ " == s`},
		{in: "`raw \\` =~ x", want: "`raw \\`  matches  x"},
		{in: `s == "unterminated =~`, want: `s == "unterminated =~`},
		{in: `a ) b`, want: `a ) b`},
		{in: `ünï IN (1)`, want: `ünï in [1]`},
	}
	for _, c := range cases {
		if got := FromGovaluate(c.in); got != c.want {
			t.Errorf("FromGovaluate(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestFromGovaluateEvaluates(t *testing.T) {
	env := map[string]any{"action": "started", "n": 2.0, "s": "b"}
	cases := []struct {
		code string
		want bool
	}{
		{code: `action =~ "start"`, want: true},
		{code: `action =~ "^start$"`, want: false},
		{code: `action !~ "stop"`, want: true},
		{code: `s IN ("a", "b")`, want: true},
		{code: `s IN ("a", "c")`, want: false},
		{code: `n IN (1, 2)`, want: true},
		{code: `n in (1, 3) || action =~ "ted$"`, want: true},
	}
	for _, c := range cases {
		out, err := expr.Eval(FromGovaluate(c.code), env)
		if err != nil || out != c.want {
			t.Errorf("%q → %q = %v, %v; want %v", c.code, FromGovaluate(c.code), out, err, c.want)
		}
	}
}
