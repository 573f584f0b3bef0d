package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestTableTakesMediansAndRatios(t *testing.T) {
	in := `goos: linux
BenchmarkA-2   10   3000000 ns/op   100 B/op   5 allocs/op   58.5 status-B/node
BenchmarkA-2   10   1000000 ns/op   100 B/op   5 allocs/op   58.5 status-B/node
BenchmarkA-2   10   2000000 ns/op   300 B/op   7 allocs/op   58.5 status-B/node
BenchmarkB     10   1000 ns/op
PASS`
	var out bytes.Buffer
	if err := run(strings.NewReader(in), &out, ratios{"A/B"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| A | 3 | 2.00 ms | 100 | 5 | 58.5 status-B/node |",
		"| B | 1 | 1.0 µs | 0 | 0 |  |",
		"| A ÷ B | 2e+03× |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := run(strings.NewReader("nothing"), &out, nil); err == nil {
		t.Error("empty input must be an error")
	}
	if err := run(strings.NewReader(in), &out, ratios{"A/C"}); err == nil {
		t.Error("a ratio of an unknown benchmark must be an error")
	}
}
