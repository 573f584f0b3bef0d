package expression

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// TaskResult is an operand suffix of a depends expression, e.g. the
// "Failed" of "A.Failed". The empty result is a bare task name.
type TaskResult string

// The task results of Argo's enhanced depends logic.
const (
	ResultBare         TaskResult = ""
	ResultSucceeded    TaskResult = "Succeeded"
	ResultFailed       TaskResult = "Failed"
	ResultErrored      TaskResult = "Errored"
	ResultSkipped      TaskResult = "Skipped"
	ResultOmitted      TaskResult = "Omitted"
	ResultDaemoned     TaskResult = "Daemoned"
	ResultAnySucceeded TaskResult = "AnySucceeded"
	ResultAllFailed    TaskResult = "AllFailed"
)

var validResults = map[TaskResult]bool{
	ResultSucceeded: true, ResultFailed: true, ResultErrored: true, ResultSkipped: true,
	ResultOmitted: true, ResultDaemoned: true, ResultAnySucceeded: true, ResultAllFailed: true,
}

// Operand is one "task" or "task.Result" of a depends expression.
type Operand struct {
	Task   string
	Result TaskResult
}

func (o Operand) String() string {
	if o.Result == ResultBare {
		return o.Task
	}
	return o.Task + "." + string(o.Result)
}

// Depends is a parsed depends expression. Operands are replaced by slots of
// a boolean vector, so task names with dashes need no escaping (Argo
// replaces "-" with "_", which makes "a-b" and "a_b" collide).
type Depends struct {
	Source   string
	Operands []Operand
	program  *vm.Program
}

// Tasks returns the distinct tasks the expression refers to, in order of
// first appearance.
func (d *Depends) Tasks() []string {
	seen := map[string]bool{}
	var out []string
	for _, o := range d.Operands {
		if !seen[o.Task] {
			seen[o.Task] = true
			out = append(out, o.Task)
		}
	}
	return out
}

// ParseDepends parses a depends expression: operands joined by &&, ||, !
// and parentheses. An empty expression has no operands and always holds.
func ParseDepends(s string) (*Depends, error) {
	d := &Depends{Source: s}
	var code strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case strings.HasPrefix(s[i:], "&&"), strings.HasPrefix(s[i:], "||"):
			code.WriteString(" " + s[i:i+2] + " ")
			i += 2
		case c == '!' || c == '(' || c == ')':
			code.WriteByte(c)
			i++
		case isNameStart(c):
			j := i
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			op := Operand{Task: s[i:j]}
			if j < len(s) && s[j] == '.' {
				k := j + 1
				for k < len(s) && isNameChar(s[k]) {
					k++
				}
				op.Result = TaskResult(s[j+1 : k])
				if !validResults[op.Result] {
					return nil, fmt.Errorf("depends %q: %q is not a task result (use Succeeded, Failed, Errored, Skipped, Omitted, Daemoned, AnySucceeded or AllFailed)", s, s[i:k])
				}
				j = k
			}
			fmt.Fprintf(&code, "v[%d]", len(d.Operands))
			d.Operands = append(d.Operands, op)
			i = j
		default:
			return nil, fmt.Errorf("depends %q: unexpected %q at offset %d", s, string(c), i)
		}
	}
	if len(d.Operands) == 0 {
		if strings.TrimSpace(s) != "" {
			return nil, fmt.Errorf("depends %q names no task", s)
		}
		return d, nil
	}
	program, err := expr.Compile(code.String(), expr.Env(map[string]any{"v": []bool{}}), expr.AsBool())
	if err != nil {
		return nil, fmt.Errorf("depends %q is not a valid boolean expression: %w", s, err)
	}
	d.program = program
	return d, nil
}

// DependenciesAsDepends turns a legacy dependencies list into the
// equivalent expression: every dependency, bare, joined by &&.
func DependenciesAsDepends(deps []string) (*Depends, error) {
	return ParseDepends(strings.Join(deps, " && "))
}

// Eval evaluates the expression; value gives each operand's truth.
func (d *Depends) Eval(value func(Operand) bool) (bool, error) {
	if d.program == nil {
		return true, nil
	}
	v := make([]bool, len(d.Operands))
	for i, o := range d.Operands {
		v[i] = value(o)
	}
	out, err := expr.Run(d.program, map[string]any{"v": v})
	if err != nil {
		return false, fmt.Errorf("evaluate depends %q: %w", d.Source, err)
	}
	return out.(bool), nil
}

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func isNameChar(c byte) bool { return isNameStart(c) || c == '-' }

// maxOpenOperands bounds CanHold's search; beyond it CanHold assumes yes.
const maxOpenOperands = 12

// CanHold reports whether some truth of the operands not yet known could
// make the expression true. value gives an operand's truth and whether it is
// known.
func (d *Depends) CanHold(value func(Operand) (truth, known bool)) (bool, error) {
	if d.program == nil {
		return true, nil
	}
	v := make([]bool, len(d.Operands))
	var open []int
	for i, o := range d.Operands {
		truth, known := value(o)
		if known {
			v[i] = truth
		} else {
			open = append(open, i)
		}
	}
	if len(open) > maxOpenOperands {
		return true, nil
	}
	for mask := 0; mask < 1<<len(open); mask++ {
		for bit, i := range open {
			v[i] = mask&(1<<bit) != 0
		}
		out, err := expr.Run(d.program, map[string]any{"v": v})
		if err != nil {
			return false, fmt.Errorf("evaluate depends %q: %w", d.Source, err)
		}
		if out.(bool) {
			return true, nil
		}
	}
	return false, nil
}
