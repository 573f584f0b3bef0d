// Command benchtable reads `go test -bench` output and prints a markdown
// table of the median of each metric over the runs, and the ratios asked
// for with -ratio.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

type ratios []string

func (r *ratios) String() string     { return strings.Join(*r, ",") }
func (r *ratios) Set(s string) error { *r = append(*r, s); return nil }

// benchLine matches "BenchmarkName-2  10  123 ns/op  4 B/op …".
var benchLine = regexp.MustCompile(`^(Benchmark[^\s]+?)(-\d+)?\s+(\d+)\s+(.*)$`)

func main() {
	var rs ratios
	flag.Var(&rs, "ratio", "A/B: also print the ratio of benchmark A's ns/op to B's (repeatable)")
	flag.Parse()
	if err := run(os.Stdin, os.Stdout, rs); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer, rs ratios) error {
	samples := map[string]map[string][]float64{}
	var order []string
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name := strings.TrimPrefix(m[1], "Benchmark")
		if samples[name] == nil {
			samples[name] = map[string][]float64{}
			order = append(order, name)
		}
		fields := strings.Fields(m[4])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			samples[name][fields[i+1]] = append(samples[name][fields[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(order) == 0 {
		return fmt.Errorf("no benchmark results in the input")
	}
	fmt.Fprintln(out, "| benchmark | runs | time/op | B/op | allocs/op | other (median) |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|")
	for _, name := range order {
		s := samples[name]
		var other []string
		var units []string
		for u := range s {
			if u != "ns/op" && u != "B/op" && u != "allocs/op" {
				units = append(units, u)
			}
		}
		sort.Strings(units)
		for _, u := range units {
			other = append(other, fmt.Sprintf("%s %s", num(median(s[u])), u))
		}
		fmt.Fprintf(out, "| %s | %d | %s | %s | %s | %s |\n", name, len(s["ns/op"]), duration(median(s["ns/op"])),
			num(median(s["B/op"])), num(median(s["allocs/op"])), strings.Join(other, ", "))
	}
	if len(rs) > 0 {
		fmt.Fprintln(out)
		fmt.Fprintln(out, "| ratio (median time/op) | value |")
		fmt.Fprintln(out, "|---|---|")
	}
	for _, r := range rs {
		a, b, ok := strings.Cut(r, "/")
		if !ok || samples[a] == nil || samples[b] == nil {
			return fmt.Errorf("ratio %q: want A/B of two benchmarks in the input", r)
		}
		fmt.Fprintf(out, "| %s ÷ %s | %.3g× |\n", a, b, median(samples[a]["ns/op"])/median(samples[b]["ns/op"]))
	}
	return nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func duration(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	default:
		return fmt.Sprintf("%.0f ns", ns)
	}
}

func num(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}
