package filter

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
	"github.com/tidwall/gjson"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

// exprGroup is the expr filters, combined by exprLogicalOperator.
type exprGroup struct {
	or      bool
	filters []*exprFilter
}

type exprFilter struct {
	field   string // e.g. filters.exprs[0], to name it in errors
	code    string // as written in the Sensor
	fields  []v1alpha1.PayloadField
	program *vm.Program
}

// identifier is the ASCII subset of expr-lang's identifiers; "$" is left
// out because $env is expr-lang's name for the whole environment.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func compileExprs(filters []v1alpha1.ExprFilter, op v1alpha1.LogicalOperator) (*exprGroup, error) {
	var errs []error
	or, err := isOr(op, "filters.exprLogicalOperator")
	errs = append(errs, err)
	g := &exprGroup{or: or}
	for i := range filters {
		f, err := compileExpr(&filters[i], fmt.Sprintf("filters.exprs[%d]", i))
		errs = append(errs, err)
		g.filters = append(g.filters, f)
	}
	return g, errors.Join(errs...)
}

func compileExpr(spec *v1alpha1.ExprFilter, field string) (*exprFilter, error) {
	var errs []error
	f := &exprFilter{field: field, code: spec.Expr, fields: spec.Fields}
	if len(spec.Fields) == 0 {
		// Argo skips such an entry, which then passes under "and" and not
		// under "or"; the CRD requires a field, so it is a mistake.
		errs = append(errs, fmt.Errorf("%s.fields: at least one field is required", field))
	}
	// The names' types are only known per event, hence Any.
	env := types.Map{}
	for j, p := range spec.Fields {
		at := fmt.Sprintf("%s.fields[%d]", field, j)
		if err := checkName(p.Name); err != nil {
			errs = append(errs, fmt.Errorf("%s.name: %w", at, err))
		} else if _, dup := env[p.Name]; dup {
			errs = append(errs, fmt.Errorf("%s.name: %q is bound twice", at, p.Name))
		}
		if p.Path == "" {
			errs = append(errs, fmt.Errorf("%s.path: must not be empty", at))
		}
		env[p.Name] = types.Any
	}
	if spec.Expr == "" {
		errs = append(errs, fmt.Errorf("%s.expr: must not be empty", field))
	} else {
		program, err := expression.Compile(expression.FromGovaluate(spec.Expr), env, expr.AsBool())
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.expr: invalid expression %q: %w", field, spec.Expr, err))
		}
		f.program = program
	}
	return f, errors.Join(errs...)
}

// checkName accepts a name that an expression can refer to as a plain
// variable: not a keyword, literal or operator of expr-lang (true, nil, in,
// not, matches, …), nor a word the govaluate rewriting changes. Builtins
// such as count or len may be names: the field then hides the builtin in
// that expression only.
func checkName(name string) error {
	if !identifier.MatchString(name) {
		return fmt.Errorf("%q is not a valid expression identifier (use letters, digits and _, not starting with a digit)", name)
	}
	if expression.IsReserved(name) {
		return fmt.Errorf("%q is reserved: names starting with __zf_ are zeroflow's own", name)
	}
	tree, err := parser.Parse(expression.FromGovaluate(name))
	if err == nil {
		if id, ok := tree.Node.(*ast.IdentifierNode); ok && id.Value == name {
			return nil
		}
	}
	return fmt.Errorf("%q is a reserved word of the expression language", name)
}

func (g *exprGroup) match(in *input) (bool, error) {
	data, err := in.json()
	if err != nil {
		return false, fmt.Errorf("filters.exprs: %w", err)
	}
	if data == nil {
		return true, nil
	}
	return combine(g.or, len(g.filters), func(i int) (bool, error) {
		return g.filters[i].match(data)
	})
}

func (f *exprFilter) match(data []byte) (bool, error) {
	env := make(map[string]any, len(f.fields))
	for j, p := range f.fields {
		v := gjson.GetBytes(data, p.Path)
		if !v.Exists() {
			return false, fmt.Errorf("%s.fields[%d]: path %q does not exist", f.field, j, p.Path)
		}
		// Numbers are float64, as in govaluate, and expr-lang compares
		// them with int literals: count > 3 works for 3.5.
		env[p.Name] = v.Value()
	}
	// The event's values are variables, never code; the budget keeps one
	// expression from taking the sensor down, whatever the event holds.
	out, err := expression.Run(f.program, env)
	if err != nil {
		return false, fmt.Errorf("%s: evaluate %q: %w", f.field, f.code, err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("%s: expression %q gave %v (%T), not a boolean", f.field, f.code, out, out)
	}
	return b, nil
}
