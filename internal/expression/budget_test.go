package expression

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/zeroflow-dev/zeroflow/internal/interpolate"
)

// bomb is the webhook field of issue 11: pasted into '{{...}}' == 'y' as
// code, it made expr-lang allocate about 1 TB.
const bomb = `x' + repeat(repeat('x', 999999), 1000000) + '`

func TestWhenTagsValuesAreLiterals(t *testing.T) {
	vals := map[string]string{
		"steps.flip.outputs.result": "heads",
		"tasks.gen.outputs.result":  "7",
		"big":                       "12",
		"float":                     "2.5",
		"neg":                       "-3",
		"on":                        "true",
		"off":                       "false",
		"item":                      "a",
		"spaced":                    "a b",
		"nl":                        "heads\n",
		"bomb":                      bomb,
		"code":                      "1 == 1 || x",
		"quote":                     `it's "q"`,
		"empty":                     "",
	}
	resolve := func(tag interpolate.Tag) (string, bool, error) {
		if tag.Expression {
			v, err := Eval(tag.Text, nil)
			if err != nil {
				return "", false, err
			}
			s, err := Render(v)
			return s, false, err
		}
		v, ok := vals[tag.Text]
		return v, !ok, nil
	}
	cases := []struct {
		cond    string
		want    bool
		shown   string
		wantErr string
	}{
		// Argo's examples.
		{cond: "{{steps.flip.outputs.result}} == heads", want: true, shown: "heads == heads"},
		{cond: "{{steps.flip.outputs.result}} == tails", want: false},
		{cond: "{{tasks.gen.outputs.result}} > 5", want: true, shown: "7 > 5"},
		{cond: "{{tasks.gen.outputs.result}} < 10", want: true},
		// Numerically, not as strings ("12" < "7").
		{cond: "{{big}} > {{tasks.gen.outputs.result}}", want: true},
		{cond: "{{float}} >= 2.5", want: true},
		{cond: "{{neg}} < 0", want: true},
		{cond: "{{item}} == 'a'", want: true},
		{cond: "{{item}} != 'a'", want: false},
		{cond: "{{on}}", want: true},
		{cond: "{{off}} || {{on}}", want: true},
		{cond: "{{on}} == true", want: true},
		{cond: "{{steps.flip.outputs.result}} =~ '^he'", want: true},
		{cond: "{{steps.flip.outputs.result}} in (heads, tails)", want: true},
		{cond: "{{nl}} == heads", want: true},
		// Inside quotes, a value is part of the string.
		{cond: "'{{steps.flip.outputs.result}}' == 'heads'", want: true},
		{cond: `"{{steps.flip.outputs.result}}-{{tasks.gen.outputs.result}}" == "heads-7"`, want: true},
		{cond: `"{{tasks.gen.outputs.result}}" == "7"`, want: true},
		// A value glued to a word makes one literal with it.
		{cond: "{{steps.flip.outputs.result}}up == headsup", want: true},
		{cond: "1{{tasks.gen.outputs.result}} == 17", want: true},
		// Values are one literal: spaces, quotes and operators are text.
		{cond: "{{spaced}} == 'a b'", want: true},
		{cond: "{{code}}", wantErr: "expected bool"},
		{cond: "{{code}} == '1 == 1 || x'", want: true},
		{cond: `'{{quote}}' == "it's \"q\""`, want: true},
		{cond: "{{empty}} == ''", want: true},
		// The attack: the value stays a string, nothing is repeated.
		{cond: "'{{bomb}}' == 'y'", want: false},
		{cond: "{{bomb}} == y", want: false},
		{cond: "'{{bomb}}' == '" + strings.ReplaceAll(bomb, "'", `\'`) + "'", want: true},
		// An expression tag's value is a literal too.
		{cond: "{{= 2 + 3 }} > 4", want: true},
		{cond: "{{= 'x\\' + repeat(\\'y\\', 3) + \\'' }} == y", want: false},
		// Tags of unknown families stay as written, and do not compile.
		{cond: "{{other.thing}} == x", wantErr: "invalid when"},
		{cond: "{{tasks.gen.outputs.result}} ==", wantErr: "invalid when"},
	}
	for _, c := range cases {
		got, shown, err := WhenTags(c.cond, resolve)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("WhenTags(%q) error = %v, want %q", c.cond, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("WhenTags(%q) = %v, %v; want %v", c.cond, got, err, c.want)
		}
		if c.shown != "" && shown != c.shown {
			t.Errorf("WhenTags(%q) shown %q, want %q", c.cond, shown, c.shown)
		}
	}
}

func TestBudgetAtTheLimit(t *testing.T) {
	n := strconv.Itoa
	cases := []struct {
		name, code string
		over       bool
		// slow: a million cheap steps, which a loaded machine may not
		// finish within TimeBudget; either limit stops it.
		slow bool
	}{
		// A string of k bytes counts k+1 units.
		{name: "repeat just under", code: "len(repeat('x', " + n(MemoryBudget-1) + "))"},
		{name: "repeat at the budget", code: "len(repeat('x', " + n(MemoryBudget) + "))", over: true},
		{name: "repeat far over, refused before it allocates", code: "len(repeat(repeat('x', 999999), 1000000))", over: true},
		// 400001 + 100000 + 499999 units: the budget exactly.
		{name: "concatenation at the budget", code: "len(repeat('x', 400000) + repeat('y', 99999))"},
		{name: "concatenation one over", code: "len(repeat('x', 400000) + repeat('y', 100000))", over: true},
		{name: "doubling in reduce", code: "len(reduce(1..64, #acc + #acc, 'x'))", over: true},
		{name: "replace that multiplies", code: "len(replace(repeat('x', 1000), 'x', repeat('y', 1000)))", over: true},
		{name: "join of shared strings", code: "let a = repeat('x', 1000); len(join(map(1..1000, a)))", over: true},
		{name: "toJSON of a shared nest", code: "let a = map(1..100, 'x'); let b = map(1..100, a); let c = map(1..100, b); len(toJSON(c))", over: true},
		{name: "predicate iterations under", code: "count(1..300000, # > 0) > 0"},
		{name: "nested predicate iterations over", code: "all(1..1000, all(1..1000, true))", over: true, slow: true},
		// expr-lang's own count: a range of k elements counts k.
		{name: "range just under", code: "len(1.." + n(MemoryBudget-2) + ") > 0"},
		{name: "range at the budget", code: "len(1.." + n(MemoryBudget) + ") > 0", over: true},
	}
	for _, c := range cases {
		_, err := Eval(c.code, nil)
		if c.over {
			timedOut := c.slow && err != nil && strings.Contains(err.Error(), "time budget of")
			if !errors.Is(err, ErrBudget) || !strings.Contains(err.Error(), "memory budget of 1000000 units") && !timedOut {
				t.Errorf("%s: Eval(%q) error = %v, want the memory budget", c.name, c.code, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Eval(%q): %v", c.name, c.code, err)
		}
	}
}

// TestTimeBudget: a loop that allocates little but scans a large value at
// every iteration is stopped by the time budget.
func TestTimeBudget(t *testing.T) {
	env := map[string]any{"s": strings.Repeat("x", 8<<20)}
	_, err := Eval("all(1..100000, !(s contains 'y'))", env)
	if !errors.Is(err, ErrBudget) || !strings.Contains(err.Error(), "time budget of "+TimeBudget.String()) {
		t.Fatalf("error = %v, want the time budget", err)
	}
}

func TestSizeLimits(t *testing.T) {
	long := "x == '" + strings.Repeat("y", MaxLength) + "'"
	if _, err := Eval(long, map[string]any{"x": ""}); !errors.Is(err, ErrBudget) || !strings.Contains(err.Error(), "MaxLength") {
		t.Errorf("long expression: %v, want MaxLength", err)
	}
	if err := Check(long); err == nil {
		t.Error("Check accepts an expression over MaxLength")
	}
	many := strings.Repeat("1 + ", MaxNodes) + "1"
	if _, err := Eval(many, nil); err == nil || !strings.Contains(err.Error(), "exceeds maximum allowed nodes") {
		t.Errorf("expression over MaxNodes: %v", err)
	}
	if err := CheckWhen(strings.Repeat("a == a && ", MaxNodes/2) + "true"); err == nil {
		t.Error("CheckWhen accepts a condition over MaxNodes")
	}
	if _, err := Eval(strings.Repeat("1 + ", MaxNodes/4)+"1", nil); err != nil {
		t.Errorf("expression under MaxNodes: %v", err)
	}
}

// TestBombInACompiledProgram: the filters' path, Compile then Run.
func TestBombInACompiledProgram(t *testing.T) {
	p, err := Compile("len(repeat(repeat(s, 999999), 1000000)) > 0", map[string]any{"s": ""})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]any{"s": "x"}
	if _, err := Run(p, env); !errors.Is(err, ErrBudget) {
		t.Fatalf("Run = %v, want ErrBudget", err)
	}
	if _, ok := env[meterName]; ok {
		t.Error("Run modified the caller's env")
	}
	// The same program runs again with a fresh budget.
	if out, err := Run(p, map[string]any{"s": ""}); err != nil || out != false {
		t.Fatalf("Run again = %v, %v", out, err)
	}
}
