package expression

import (
	"reflect"
	"strings"
	"testing"
)

func TestWhen(t *testing.T) {
	cases := []struct {
		cond    string
		want    bool
		wantErr string
	}{
		{cond: "heads == heads", want: true},
		{cond: "tails == heads", want: false},
		{cond: "heads != tails && true", want: true},
		{cond: "5 > 3", want: true},
		{cond: "1.0 == 1", want: true},
		{cond: `"a b" == "a b"`, want: true},
		{cond: "'x' == 'x'", want: true},
		{cond: "hello =~ ell", want: true},
		{cond: "hello !~ ell", want: false},
		{cond: "true", want: true},
		{cond: "false || false", want: false},
		{cond: "heads ==", wantErr: "invalid when"},
		{cond: "5", wantErr: "invalid when"},
	}
	for _, c := range cases {
		got, err := When(c.cond)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("When(%q) error = %v, want %q", c.cond, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("When(%q) = %v, %v; want %v", c.cond, got, err, c.want)
		}
	}
}

func TestParseDepends(t *testing.T) {
	cases := []struct {
		in       string
		operands string
		wantErr  string
	}{
		{in: "", operands: ""},
		{in: "A", operands: "A"},
		{in: "A && B.Failed", operands: "A,B.Failed"},
		{in: "(a-b.Succeeded || c_d) && !e.AllFailed", operands: "a-b.Succeeded,c_d,e.AllFailed"},
		{in: "A.Bogus", wantErr: `"A.Bogus" is not a task result`},
		{in: "A &&", wantErr: "not a valid boolean expression"},
		{in: "A & B", wantErr: `unexpected "&" at offset 2`},
		{in: "A == B", wantErr: `unexpected "="`},
		{in: "A B", wantErr: "not a valid boolean expression"},
	}
	for _, c := range cases {
		d, err := ParseDepends(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseDepends(%q) error = %v, want %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDepends(%q): %v", c.in, err)
			continue
		}
		var ops []string
		for _, o := range d.Operands {
			ops = append(ops, o.String())
		}
		if got := strings.Join(ops, ","); got != c.operands {
			t.Errorf("ParseDepends(%q) operands = %q, want %q", c.in, got, c.operands)
		}
	}
}

func TestDependsEval(t *testing.T) {
	d, err := ParseDepends("(a-b.Succeeded || c) && !c.Failed")
	if err != nil {
		t.Fatal(err)
	}
	truth := map[string]bool{"a-b.Succeeded": false, "c": true, "c.Failed": false}
	got, err := d.Eval(func(o Operand) bool { return truth[o.String()] })
	if err != nil || !got {
		t.Errorf("Eval = %v, %v; want true", got, err)
	}
	truth["c.Failed"] = true
	if got, _ := d.Eval(func(o Operand) bool { return truth[o.String()] }); got {
		t.Error("Eval = true with c.Failed; want false")
	}
	if !reflect.DeepEqual(d.Tasks(), []string{"a-b", "c"}) {
		t.Errorf("Tasks = %v", d.Tasks())
	}
	empty, _ := ParseDepends("  ")
	if ok, err := empty.Eval(nil); !ok || err != nil {
		t.Errorf("empty depends = %v, %v; want true", ok, err)
	}
}

func TestExpand(t *testing.T) {
	got := Expand(map[string]string{
		"inputs.parameters.x":          "1",
		"workflow.parameters":          `[{"name":"z"}]`,
		"workflow.parameters.z":        "zz",
		"tasks.A.outputs.result":       "r",
		"tasks.A.outputs.parameters":   "[]",
		"tasks.A.outputs.parameters.p": "v",
		"item":                         "plain",
	})
	want := map[string]any{
		"inputs":   map[string]any{"parameters": map[string]any{"x": "1"}},
		"workflow": map[string]any{"parameters": map[string]any{"z": "zz"}},
		"tasks": map[string]any{"A": map[string]any{"outputs": map[string]any{
			"result": "r", "parameters": map[string]any{"p": "v"},
		}}},
		"item": "plain",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Expand = %#v\nwant %#v", got, want)
	}
}

func TestEvalAndRender(t *testing.T) {
	env := Expand(map[string]string{"inputs.parameters.n": "41", "tasks.A.outputs.result": `{"items":[{"id":7}]}`, "s": "x"})
	cases := []struct {
		code, want, wantErr string
	}{
		{code: "asInt(inputs.parameters.n) + 1", want: "42"},
		{code: "asFloat(inputs.parameters.n) / 2", want: "20.5"},
		{code: "jsonpath(tasks.A.outputs.result, '$.items[0].id')", want: "7"},
		{code: "jsonpath(tasks.A.outputs.result, 'items.0.id')", want: "7"},
		{code: "toJson([1, 'a'])", want: `[1,"a"]`},
		{code: "[1, 2]", want: "[1,2]"},
		{code: "s + 'y'", want: "xy"},
		{code: "{'a': 1}", want: `{"a":1}`},
		{code: "asInt('x')", wantErr: "not a number"},
		{code: "nope.x", wantErr: "unknown name nope"},
		{code: "1 +", wantErr: "compile expression"},
	}
	for _, c := range cases {
		v, err := Eval(c.code, env)
		var got string
		if err == nil {
			got, err = Render(v)
		}
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("Eval(%q) error = %v, want %q", c.code, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Eval(%q) = %q, %v; want %q", c.code, got, err, c.want)
		}
	}
	if _, err := Render(nil); err == nil {
		t.Error("Render(nil) must fail")
	}
}

func TestCheck(t *testing.T) {
	if err := Check("inputs.parameters.x + 1"); err != nil {
		t.Errorf("unknown names must be allowed: %v", err)
	}
	if err := Check("inputs.parameters.x +"); err == nil {
		t.Error("syntax error not reported")
	}
}

func TestGJSONPath(t *testing.T) {
	for in, want := range map[string]string{"$.a.b[0].c": "a.b.0.c", "a.b": "a.b", "$['a']": "a", "$": ""} {
		if got := GJSONPath(in); got != want {
			t.Errorf("GJSONPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDependsCanHold(t *testing.T) {
	d, err := ParseDepends("A || B")
	if err != nil {
		t.Fatal(err)
	}
	known := func(m map[string]bool) func(Operand) (bool, bool) {
		return func(o Operand) (bool, bool) { v, ok := m[o.String()]; return v, ok }
	}
	if ok, _ := d.CanHold(known(map[string]bool{"A": false})); !ok {
		t.Error("A || B with A false and B open can hold")
	}
	if ok, _ := d.CanHold(known(map[string]bool{"A": false, "B": false})); ok {
		t.Error("A || B with both false cannot hold")
	}
	d, _ = ParseDepends("A.Succeeded && B")
	if ok, _ := d.CanHold(known(map[string]bool{"A.Succeeded": false})); ok {
		t.Error("A.Succeeded && B with A.Succeeded false cannot hold")
	}
}
