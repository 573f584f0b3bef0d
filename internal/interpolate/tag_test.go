package interpolate

import (
	"errors"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	cases := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "plain", want: nil},
		{in: "{{inputs.parameters.x}}", want: []string{"{{inputs.parameters.x}}"}},
		{in: "a {{ tasks.A.outputs.result }} b {{item}}", want: []string{"{{tasks.A.outputs.result}}", "{{item}}"}},
		{in: "{{= 1 + 2 }}", want: []string{"{{=1 + 2}}"}},
		{in: `{{= {"a": 1}["a"] }}`, want: []string{`{{={"a": 1}["a"]}}`}},
		{in: `{{= "}}" + x }}`, want: []string{`{{="}}" + x}}`}},
		{in: "{{x", wantErr: "unterminated tag at offset 0"},
		{in: "ok {{ }}", wantErr: "empty tag at offset 3"},
		{in: "{{=}}", wantErr: "empty tag"},
	}
	for _, c := range cases {
		tags, err := Find(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("Find(%q) error = %v, want %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Find(%q): %v", c.in, err)
			continue
		}
		var got []string
		for _, tg := range tags {
			got = append(got, tg.String())
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("Find(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestString(t *testing.T) {
	vals := map[string]string{"a": "1", "b": "two"}
	resolve := func(tg Tag) (string, bool, error) {
		if tg.Expression {
			return "", false, errors.New("no expressions here")
		}
		v, ok := vals[tg.Text]
		return v, !ok, nil
	}
	got, err := String("x={{a}} y={{ b }} z={{unknown}}", resolve)
	if err != nil {
		t.Fatal(err)
	}
	if want := "x=1 y=two z={{unknown}}"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := String("{{=1}}", resolve); err == nil {
		t.Error("resolver error was not returned")
	}
}

func TestJSONDoesNotModifyInput(t *testing.T) {
	doc := map[string]any{"args": []any{"{{a}}", 3.0, true}, "env": map[string]any{"{{a}}": "{{a}}"}}
	out, err := JSON(doc, func(Tag) (string, bool, error) { return "1", false, nil })
	if err != nil {
		t.Fatal(err)
	}
	m := out.(map[string]any)
	if got := m["args"].([]any)[0]; got != "1" {
		t.Errorf("args[0] = %v", got)
	}
	if got := m["env"].(map[string]any)["{{a}}"]; got != "1" {
		t.Errorf("keys must not be substituted, values must: %v", m["env"])
	}
	if doc["args"].([]any)[0] != "{{a}}" {
		t.Error("input was modified")
	}
}
