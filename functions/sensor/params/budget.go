package params

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"text/template"
	"time"

	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

// A template is the Sensor author's, but its numbers and strings can come
// from the event: "{{ repeat (int .Input.body.n) "x" }}" would let a
// sender allocate what it likes in a sensor that other sensors share
// (issue 11). So the sprig functions whose result can be far larger than
// their arguments are sized before they run, against the expressions'
// MemoryBudget, and the output of one template is bounded in size and in
// time.
const (
	// templateOutput bounds what one template writes. It is above
	// MemoryBudget so that a template may print a whole event (a webhook
	// accepts 1 MiB by default).
	templateOutput = 16 << 20
	// templateTime bounds one template's run, checked at each write.
	templateTime = time.Second
)

// errBudget is wrapped by a template stopped by the budget.
var errBudget = errors.New("template budget exceeded")

// fits refuses a result of n units from name past MemoryBudget.
func fits(name string, n float64) error {
	if n > expression.MemoryBudget {
		return fmt.Errorf("%s: %w: its result would be more than the memory budget of %d units (MemoryBudget)", name, errBudget, expression.MemoryBudget)
	}
	return nil
}

// steps is how many elements a range from start to stop by step makes.
func steps(start, stop, step int) float64 {
	if step == 0 {
		return 0
	}
	return math.Max(0, (float64(stop)-float64(start))/float64(step))
}

// budgeted replaces, in fm, the sprig functions whose result size an
// argument chooses with versions that check it first. A function whose
// signature is not the expected one is removed, so that a change of sprig
// fails closed (the template does not parse) rather than open.
func budgeted(fm template.FuncMap) {
	wrap := func(name string, f func(orig any) any) {
		if w := f(fm[name]); w != nil {
			fm[name] = w
		} else {
			delete(fm, name)
		}
	}
	wrap("repeat", func(orig any) any {
		g, ok := orig.(func(int, string) string)
		if !ok {
			return nil
		}
		return func(count int, s string) (string, error) {
			if err := fits("repeat", float64(count)*float64(len(s))); err != nil {
				return "", err
			}
			return g(count, s), nil
		}
	})
	wrap("replace", func(orig any) any {
		g, ok := orig.(func(string, string, string) string)
		if !ok {
			return nil
		}
		return func(old, repl, src string) (string, error) {
			n := len(src) + 1
			if old != "" {
				n = strings.Count(src, old)
			}
			if err := fits("replace", float64(len(src))+float64(n)*float64(len(repl))); err != nil {
				return "", err
			}
			return g(old, repl, src), nil
		}
	})
	for _, name := range []string{"indent", "nindent"} {
		wrap(name, func(orig any) any {
			g, ok := orig.(func(int, string) string)
			if !ok {
				return nil
			}
			return func(spaces int, v string) (string, error) {
				lines := float64(strings.Count(v, "\n") + 1)
				if err := fits(name, float64(len(v))+lines*float64(spaces)); err != nil {
					return "", err
				}
				return g(spaces, v), nil
			}
		})
	}
	wrap("wrapWith", func(orig any) any {
		g, ok := orig.(func(int, string, string) string)
		if !ok {
			return nil
		}
		return func(l int, sep, s string) (string, error) {
			if err := fits("wrapWith", float64(len(s))*float64(1+len(sep))); err != nil {
				return "", err
			}
			return g(l, sep, s), nil
		}
	})
	wrap("until", func(orig any) any {
		g, ok := orig.(func(int) []int)
		if !ok {
			return nil
		}
		return func(count int) ([]int, error) {
			if err := fits("until", math.Abs(float64(count))); err != nil {
				return nil, err
			}
			return g(count), nil
		}
	})
	wrap("untilStep", func(orig any) any {
		g, ok := orig.(func(int, int, int) []int)
		if !ok {
			return nil
		}
		return func(start, stop, step int) ([]int, error) {
			if err := fits("untilStep", steps(start, stop, step)); err != nil {
				return nil, err
			}
			return g(start, stop, step), nil
		}
	})
	wrap("seq", func(orig any) any {
		g, ok := orig.(func(...int) string)
		if !ok {
			return nil
		}
		return func(params ...int) (string, error) {
			var n float64
			switch len(params) {
			case 1:
				n = math.Abs(float64(params[0]))
			case 2:
				n = math.Abs(float64(params[1]) - float64(params[0]))
			case 3:
				n = math.Abs(steps(params[0], params[2], params[1]))
				if params[1] == 0 {
					n = 0
				}
			}
			if err := fits("seq", n); err != nil {
				return "", err
			}
			return g(params...), nil
		}
	})
	for _, name := range []string{"randAlphaNum", "randAlpha", "randAscii", "randNumeric"} {
		wrap(name, func(orig any) any {
			g, ok := orig.(func(int) string)
			if !ok {
				return nil
			}
			return func(count int) (string, error) {
				if err := fits(name, float64(count)); err != nil {
					return "", err
				}
				return g(count), nil
			}
		})
	}
	wrap("randBytes", func(orig any) any {
		g, ok := orig.(func(int) (string, error))
		if !ok {
			return nil
		}
		return func(count int) (string, error) {
			if err := fits("randBytes", float64(count)); err != nil {
				return "", err
			}
			return g(count)
		}
	})
}

// boundedWriter stops a template past templateOutput bytes or
// templateTime: text/template stops at the first write that fails.
type boundedWriter struct {
	strings.Builder
	deadline time.Time
}

func newBoundedWriter() *boundedWriter {
	return &boundedWriter{deadline: time.Now().Add(templateTime)}
}

func (w *boundedWriter) Write(p []byte) (int, error) {
	if w.Len()+len(p) > templateOutput {
		return 0, fmt.Errorf("%w: the output is more than %d bytes", errBudget, templateOutput)
	}
	if time.Now().After(w.deadline) {
		return 0, fmt.Errorf("%w: took longer than %v", errBudget, templateTime)
	}
	return w.Builder.Write(p)
}
