package expression

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// When evaluates an Argo `when` condition after its tags were substituted.
// Argo evaluates it with govaluate, where a bare word is a string, so
// "heads == heads" holds. Here bare identifiers become strings too, and
// govaluate's regex operators =~ and !~ become expr's matches / not matches.
func When(cond string) (bool, error) {
	program, err := compileWhen(cond)
	if err != nil {
		return false, err
	}
	out, err := expr.Run(program, nil)
	if err != nil {
		return false, fmt.Errorf("evaluate when %q: %w", cond, err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("when %q gave %v, not a boolean", cond, out)
	}
	return b, nil
}

// CheckWhen reports a syntax error in cond.
func CheckWhen(cond string) error {
	_, err := compileWhen(cond)
	return err
}

func compileWhen(cond string) (*vm.Program, error) {
	code := strings.NewReplacer("!~", " not matches ", "=~", " matches ").Replace(cond)
	opts := append([]expr.Option{expr.Patch(bareWords{}), expr.AsBool()}, functions()...)
	program, err := expr.Compile(code, opts...)
	if err != nil {
		return nil, fmt.Errorf("invalid when %q (quote values that hold spaces or dashes): %w", cond, err)
	}
	return program, nil
}

// bareWords turns identifiers into string literals: a when condition has no
// variables left once its tags are substituted.
type bareWords struct{}

func (bareWords) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok {
		ast.Patch(node, &ast.StringNode{Value: id.Value})
	}
}
