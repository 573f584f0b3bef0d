package expression

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"
)

// The budget of one expression. A workflow or sensor author writes the code,
// but the controller and the sensors are shared by every namespace: one
// expression must not be able to take a process down (issue 11).
const (
	// MemoryBudget is what one evaluation may build, in expr-lang's units:
	// one element of an array, map or range, one iteration of a predicate
	// (map, filter, all, …) and one byte of a string it builds. expr-lang's
	// VM keeps its own count of arrays, maps and ranges against the same
	// number; zeroflow counts strings and builtin results, and checks the
	// size of repeat, replace, join, concat, flatten, toJSON and string
	// before they allocate, since expr-lang would only count afterwards.
	MemoryBudget = 1_000_000
	// TimeBudget is the wall time one evaluation may take. It is checked
	// at every string built, builtin called and predicate iteration.
	TimeBudget = 250 * time.Millisecond
	// MaxNodes bounds the size of the compiled expression (expr-lang's AST
	// nodes); expr-lang's own default is 10,000.
	MaxNodes = 2_000
	// MaxLength bounds the text of an expression, in bytes.
	MaxLength = 16 << 10
)

// ErrBudget is wrapped by every error of an evaluation that ran out of
// memory or time.
var ErrBudget = errors.New("expression budget exceeded")

// reserved prefixes the names zeroflow adds to an expression: the meter, its
// metered builtins and the bound values of a when condition.
const reserved = "__zf_"

// IsReserved reports whether name is one zeroflow binds in expressions
// itself; a Sensor may not use it for a field.
func IsReserved(name string) bool { return strings.HasPrefix(name, reserved) }

// meterName is the variable through which metered functions reach the
// evaluation's meter.
const meterName = reserved + "meter"

// meter is the budget of one evaluation. It has no exported members, so
// that an expression that names it can do nothing with it.
type meter struct {
	used     uint
	limit    uint
	deadline time.Time
	timeout  time.Duration
}

func newMeter() *meter {
	return &meter{limit: MemoryBudget, timeout: TimeBudget, deadline: time.Now().Add(TimeBudget)}
}

// charge counts n units and checks the deadline.
func (m *meter) charge(n uint) error {
	if m.used+n < m.used || m.used+n > m.limit {
		return fmt.Errorf("%w: more than the memory budget of %d units (MemoryBudget)", ErrBudget, m.limit)
	}
	m.used += n
	if time.Now().After(m.deadline) {
		return fmt.Errorf("%w: took longer than the time budget of %v (TimeBudget)", ErrBudget, m.timeout)
	}
	return nil
}

// fits reports an error when n units would not fit, without counting them.
func (m *meter) fits(n uint) error {
	if m.used+n < m.used || m.used+n > m.limit {
		return fmt.Errorf("%w: more than the memory budget of %d units (MemoryBudget)", ErrBudget, m.limit)
	}
	return nil
}

func meterOf(v any) (*meter, error) {
	m, ok := v.(*meter)
	if !ok || m == nil {
		return nil, fmt.Errorf("internal: expression run without its budget")
	}
	return m, nil
}

// meteredNames are the builtins whose result is allocated: each call is
// counted.
func meteredNames() []string {
	return []string{
		"trim", "trimPrefix", "trimSuffix", "upper", "lower", "split", "splitAfter",
		"replace", "repeat", "join", "toJSON", "fromJSON", "toBase64", "fromBase64", "string",
		"keys", "values", "toPairs", "fromPairs", "reverse", "uniq", "concat", "flatten", "sort", "take",
	}
}

// budgetOptions are the compile options every expression gets: the node
// limit, the metered builtins, and the patch that routes to them.
func budgetOptions() []expr.Option {
	opts := []expr.Option{expr.MaxNodes(MaxNodes), expr.Patch(budgetPatch{})}
	opts = append(opts,
		// One signature each: expr-lang tries overloads by checking the
		// arguments again for each, which is exponential in nested +.
		expr.Function(reserved+"plusString", meteredAdd, new(func(any, string, string) string)),
		expr.Function(reserved+"plus", meteredAdd, new(func(any, any, any) any)),
		expr.Function(reserved+"tick", meteredTick),
	)
	for _, name := range meteredNames() {
		if _, ok := builtin.Index[name]; !ok {
			continue
		}
		opts = append(opts, expr.Function(reserved+name, meteredBuiltin(name)))
	}
	return opts
}

// budgetPatch routes what can allocate or loop through the meter: string
// concatenation, the metered builtins and the body of every predicate.
type budgetPatch struct{}

func (budgetPatch) Visit(node *ast.Node) {
	meterArg := func() ast.Node { return &ast.IdentifierNode{Value: meterName} }
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		// expr-lang checks the types before each patch: a + that cannot
		// join strings (numbers, times) stays as it is.
		if n.Operator != "+" {
			return
		}
		l, r := kindOf(n.Left), kindOf(n.Right)
		if l != reflect.String && l != reflect.Interface || r != reflect.String && r != reflect.Interface {
			return
		}
		name := reserved + "plus"
		if l == reflect.String && r == reflect.String {
			name = reserved + "plusString"
		}
		ast.Patch(node, &ast.CallNode{
			Callee:    &ast.IdentifierNode{Value: name},
			Arguments: []ast.Node{meterArg(), n.Left, n.Right},
		})
	case *ast.BuiltinNode:
		if isMetered(n.Name) {
			ast.Patch(node, &ast.CallNode{
				Callee:    &ast.IdentifierNode{Value: reserved + n.Name},
				Arguments: append([]ast.Node{meterArg()}, n.Arguments...),
			})
			return
		}
		for _, a := range n.Arguments {
			if p, ok := a.(*ast.PredicateNode); ok {
				p.Node = &ast.CallNode{
					Callee:    &ast.IdentifierNode{Value: reserved + "tick"},
					Arguments: []ast.Node{meterArg(), p.Node},
				}
			}
		}
	}
}

// kindOf is the kind the checker found for n; Interface when unknown.
func kindOf(n ast.Node) reflect.Kind {
	t := n.Type()
	if t == nil {
		return reflect.Interface
	}
	return t.Kind()
}

func isMetered(name string) bool { return slices.Contains(meteredNames(), name) }

// meteredTick counts one predicate iteration and gives its value through.
func meteredTick(params ...any) (any, error) {
	m, err := meterOf(params[0])
	if err != nil {
		return nil, err
	}
	if err := m.charge(1); err != nil {
		return nil, err
	}
	return params[1], nil
}

// meteredAdd is expr-lang's + with the bytes of a string result counted
// before they are allocated.
func meteredAdd(params ...any) (out any, err error) {
	m, err := meterOf(params[0])
	if err != nil {
		return nil, err
	}
	a, b := params[1], params[2]
	if sa, ok := a.(string); ok {
		if sb, ok := b.(string); ok {
			if err := m.charge(uint(len(sa)) + uint(len(sb))); err != nil {
				return nil, err
			}
			return sa + sb, nil
		}
	}
	// runtime.Add panics on mismatched types, as the VM's OpAdd does; the
	// message is kept.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return runtime.Add(a, b), nil
}

// meteredBuiltin calls the builtin name after checking what its result will
// take, when that can be known before, and counts the result.
func meteredBuiltin(name string) func(params ...any) (any, error) {
	f := builtin.Builtins[builtin.Index[name]]
	return func(params ...any) (out any, err error) {
		m, err := meterOf(params[0])
		if err != nil {
			return nil, err
		}
		args := params[1:]
		if err := m.fits(predictSize(name, args, m.limit-m.used)); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%s: %v", name, r)
			}
		}()
		switch {
		case f.Safe != nil:
			v, _, err := f.Safe(args...)
			out = v
			if err != nil {
				return nil, err
			}
		case f.Func != nil:
			out, err = f.Func(args...)
			if err != nil {
				return nil, err
			}
		case f.Fast != nil && len(args) == 1:
			out = f.Fast(args[0])
		default:
			return nil, fmt.Errorf("%s: unexpected arguments", name)
		}
		if err := m.charge(shallowSize(out)); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return out, nil
	}
}

// predictSize is, for the builtins whose result can be far larger than
// their arguments, how large it will be, counted up to limit+1; 0 for the
// others, which are counted once they return.
func predictSize(name string, args []any, limit uint) uint {
	switch name {
	case "repeat":
		if len(args) == 2 {
			s, _ := args[0].(string)
			n := toUint(args[1])
			if len(s) > 0 && n > limit/uint(len(s)) {
				return limit + 1
			}
			return uint(len(s)) * n
		}
	case "replace":
		if len(args) == 3 {
			s, _ := args[0].(string)
			old, _ := args[1].(string)
			repl, _ := args[2].(string)
			count := uint(len(s) + 1)
			if old != "" {
				count = uint(strings.Count(s, old))
			}
			if len(repl) > 0 && count > limit/uint(len(repl)) {
				return limit + 1
			}
			return uint(len(s)) + count*uint(len(repl))
		}
	case "join":
		if len(args) >= 1 {
			sep := ""
			if len(args) == 2 {
				sep, _ = args[1].(string)
			}
			return joinSize(args[0], sep, limit)
		}
	case "concat", "flatten", "toJSON", "string":
		var total uint
		for _, a := range args {
			total += deepSize(a, limit-min(total, limit))
			if total > limit {
				return limit + 1
			}
		}
		return total
	}
	return 0
}

func toUint(v any) uint {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if rv.Int() < 0 {
			return 0
		}
		return uint(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return uint(rv.Uint())
	case reflect.Float32, reflect.Float64:
		if rv.Float() < 0 {
			return 0
		}
		if rv.Float() > float64(^uint32(0)) {
			return uint(^uint32(0))
		}
		return uint(rv.Float())
	}
	return 0
}

func joinSize(v any, sep string, limit uint) uint {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return 0
	}
	var total uint
	for i := 0; i < rv.Len(); i++ {
		if s, ok := rv.Index(i).Interface().(string); ok {
			total += uint(len(s))
		}
		total += uint(len(sep))
		if total > limit {
			return limit + 1
		}
	}
	return total
}

// deepSize counts the elements and string bytes of v, shared parts once
// per reference as a serialization would write them, and stops past limit.
func deepSize(v any, limit uint) uint {
	var total uint
	var walk func(rv reflect.Value)
	walk = func(rv reflect.Value) {
		if total > limit {
			return
		}
		for rv.Kind() == reflect.Interface || rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				total++
				return
			}
			rv = rv.Elem()
		}
		switch rv.Kind() {
		case reflect.String:
			total += uint(rv.Len()) + 1
		case reflect.Slice, reflect.Array:
			total++
			for i := 0; i < rv.Len() && total <= limit; i++ {
				walk(rv.Index(i))
			}
		case reflect.Map:
			total++
			it := rv.MapRange()
			for it.Next() && total <= limit {
				walk(it.Key())
				walk(it.Value())
			}
		case reflect.Struct:
			total++
			for i := 0; i < rv.NumField() && total <= limit; i++ {
				if rv.Type().Field(i).IsExported() {
					walk(rv.Field(i))
				}
			}
		default:
			total++
		}
	}
	walk(reflect.ValueOf(v))
	return total
}

// shallowSize is what a builtin's result takes: its bytes or elements.
func shallowSize(v any) uint {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Array, reflect.Map:
		return uint(rv.Len()) + 1
	}
	return 1
}

// checkLength refuses code longer than MaxLength before it is parsed.
func checkLength(code string) error {
	if len(code) > MaxLength {
		return fmt.Errorf("%w: the expression is %d bytes, more than the limit of %d (MaxLength)", ErrBudget, len(code), MaxLength)
	}
	return nil
}

// run evaluates program within the budget. env gets the meter; it must be
// a fresh map the caller does not share.
func run(program *vm.Program, env map[string]any) (out any, err error) {
	env[meterName] = newMeter()
	machine := vm.VM{MemoryBudget: MemoryBudget}
	out, err = machine.Run(program, env)
	if err != nil && strings.Contains(err.Error(), "memory budget exceeded") && !errors.Is(err, ErrBudget) {
		err = fmt.Errorf("%w: more than the memory budget of %d units (MemoryBudget): %w", ErrBudget, MemoryBudget, err)
	}
	return out, err
}
