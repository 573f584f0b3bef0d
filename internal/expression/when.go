package expression

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"github.com/zeroflow-dev/zeroflow/internal/interpolate"
)

// When evaluates an Argo `when` condition that has no tags left. Argo
// evaluates it with govaluate, where a bare word is a string, so
// "heads == heads" holds. Here bare identifiers become strings too, and
// govaluate's regex operators =~ and !~ become expr's matches / not matches.
func When(cond string) (bool, error) {
	ok, _, err := WhenTags(cond, nil)
	return ok, err
}

// WhenTags evaluates a `when` condition as written, with its {{...}} tags
// resolved by resolve (nil leaves them as written). A tag's value is data,
// never code: it is bound to a variable of the condition, one literal. Out
// of quotes the literal is a number when the value is one, a boolean for
// true and false, else a string, so Argo's "{{steps.flip.outputs.result}}
// == heads" and "{{tasks.gen.outputs.result}} > 5" mean what they mean in
// Argo; inside quotes it is part of the string. A tag glued to a word
// ("{{x}}abc") makes one literal with it, as the pasted text would in Argo.
//
// shown is the condition with the values pasted in, clipped, for messages
// only.
func WhenTags(cond string, resolve interpolate.Resolver) (ok bool, shown string, err error) {
	code, env, shown, err := bindWhen(cond, resolve)
	if err != nil {
		return false, shown, err
	}
	program, err := compileWhen(code, env)
	if err != nil {
		return false, shown, fmt.Errorf("invalid when %q (quote values that hold spaces or dashes): %w", clip(shown), err)
	}
	out, err := run(program, env)
	if err != nil {
		return false, shown, fmt.Errorf("evaluate when %q: %w", clip(shown), err)
	}
	b, isBool := out.(bool)
	if !isBool {
		return false, shown, fmt.Errorf("when %q gave %v, not a boolean", clip(shown), out)
	}
	return b, clip(shown), nil
}

// CheckWhen reports a syntax error in cond, which has no tags left.
func CheckWhen(cond string) error {
	code, env, _, err := bindWhen(cond, nil)
	if err == nil {
		_, err = compileWhen(code, env)
	}
	if err != nil {
		return fmt.Errorf("invalid when %q (quote values that hold spaces or dashes): %w", clip(cond), err)
	}
	return nil
}

func compileWhen(code string, env map[string]any) (*vm.Program, error) {
	if err := checkLength(code); err != nil {
		return nil, err
	}
	// bareWords goes first: the budget patch adds identifiers of its own.
	opts := []expr.Option{expr.Env(withMeter(env)), expr.Patch(bareWords{}), expr.AsBool()}
	opts = append(opts, functions()...)
	return expr.Compile(FromGovaluate(code), append(opts, budgetOptions()...)...)
}

// valueName is the variable bound to the i-th value of a condition.
func valueName(i int) string { return reserved + "v" + strconv.Itoa(i) }

// bindWhen replaces the tags of cond by variables and returns the code,
// the variables and the condition as Argo would have pasted it.
func bindWhen(cond string, resolve interpolate.Resolver) (code string, env map[string]any, shown string, err error) {
	env = map[string]any{}
	var tags []interpolate.Tag
	if resolve != nil && interpolate.Has(cond) {
		if tags, err = interpolate.Find(cond); err != nil {
			return "", nil, cond, fmt.Errorf("when %q: %w", clip(cond), err)
		}
	}
	var out []byte
	var show strings.Builder
	bind := func(v any) string {
		name := valueName(len(env))
		env[name] = v
		return name
	}
	// tagAt resolves the tag that starts at i, if any: its value, whether it
	// stays as written, and where it ends.
	next := 0
	tagAt := func(i int) (value string, keep bool, end int, found bool, err error) {
		if next >= len(tags) || tags[next].Start != i {
			return "", false, 0, false, nil
		}
		t := tags[next]
		next++
		value, keep, err = resolve(t)
		if err != nil {
			return "", false, 0, true, err
		}
		if keep {
			value = cond[t.Start:t.End]
		}
		show.WriteString(value)
		return value, keep, t.End, true, nil
	}
	var quote byte
	var pieces []piece
	var text strings.Builder
	for i := 0; i < len(cond); {
		if quote != 0 {
			v, keep, end, found, err := tagAt(i)
			if err != nil {
				return "", nil, show.String(), err
			}
			if found {
				if keep {
					text.WriteString(v)
				} else {
					pieces = append(pieces, piece{text: text.String()}, piece{name: bind(v)})
					text.Reset()
				}
				i = end
				continue
			}
			c := cond[i]
			show.WriteByte(c)
			switch {
			case c == '\\' && quote != '`' && i+1 < len(cond) && (next >= len(tags) || tags[next].Start != i+1):
				text.WriteString(cond[i : i+2])
				show.WriteByte(cond[i+1])
				i += 2
			case c == '\\' && quote != '`':
				// A backslash before a tag escapes nothing once the
				// value is apart: it stays a backslash.
				text.WriteString(`\\`)
				i++
			case c == quote:
				pieces = append(pieces, piece{text: text.String()})
				out = appendLiteral(out, quote, pieces)
				quote, pieces = 0, nil
				text.Reset()
				i++
			default:
				text.WriteByte(c)
				i++
			}
			continue
		}
		if next < len(tags) && tags[next].Start == i {
			// The run of word bytes and tags around this tag is one word
			// in the pasted text, so it is one literal here.
			left := i
			for left > 0 && isWordByte(cond[left-1]) {
				left--
			}
			word := cond[left:i]
			// The word's start was written as plain code: it becomes part
			// of the literal.
			out = out[:len(out)-len(word)]
			var raw strings.Builder
			raw.WriteString(word)
			keptAll := true
			for {
				v, keep, end, found, err := tagAt(i)
				if err != nil {
					return "", nil, show.String(), err
				}
				if found {
					raw.WriteString(v)
					keptAll = keptAll && keep
					i = end
					continue
				}
				if i < len(cond) && isWordByte(cond[i]) {
					raw.WriteByte(cond[i])
					show.WriteByte(cond[i])
					i++
					continue
				}
				break
			}
			if keptAll {
				out = append(out, raw.String()...)
			} else {
				out = append(out, ' ')
				out = append(out, bind(literal(raw.String()))...)
				out = append(out, ' ')
			}
			continue
		}
		c := cond[i]
		show.WriteByte(c)
		if c == '"' || c == '\'' || c == '`' {
			quote = c
		} else {
			out = append(out, c)
		}
		i++
	}
	if quote != 0 {
		// Unterminated: give it back as it was, for expr-lang to report.
		pieces = append(pieces, piece{text: text.String()})
		out = append(out, quote)
		for _, p := range pieces {
			if p.name != "" {
				out = append(out, "{{…}}"...)
			}
			out = append(out, p.text...)
		}
	}
	return string(out), env, show.String(), nil
}

// piece is a part of a string literal that has tags: text, quoted again
// on output, or the name of a bound value.
type piece struct {
	text string
	name string
}

// appendLiteral writes a string literal whose tags were bound: as it was
// when it had none, else as a concatenation in parentheses.
func appendLiteral(out []byte, quote byte, pieces []piece) []byte {
	if len(pieces) == 1 {
		out = append(out, quote)
		out = append(out, pieces[0].text...)
		return append(out, quote)
	}
	out = append(out, '(')
	first := true
	for _, p := range pieces {
		if p.name == "" && p.text == "" {
			continue
		}
		if !first {
			out = append(out, " + "...)
		}
		first = false
		if p.name != "" {
			out = append(out, p.name...)
			continue
		}
		out = append(out, quote)
		out = append(out, p.text...)
		out = append(out, quote)
	}
	return append(out, ')')
}

// number is a decimal number as a when condition would write it.
var number = regexp.MustCompile(`^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$`)

// literal is the value a tag's text stands for out of quotes: a number, a
// boolean or else the text itself, as govaluate would read the pasted word.
func literal(v string) any {
	t := strings.TrimSpace(v)
	switch t {
	case "true":
		return true
	case "false":
		return false
	}
	if number.MatchString(t) {
		if i, err := strconv.ParseInt(t, 10, 64); err == nil {
			return int(i)
		}
		if f, err := strconv.ParseFloat(t, 64); err == nil {
			return f
		}
	}
	return t
}

// bareWords turns identifiers into string literals, as Argo does for when
// conditions; the variables zeroflow binds are left alone.
type bareWords struct{}

func (bareWords) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok && !strings.HasPrefix(id.Value, reserved) {
		ast.Patch(node, &ast.StringNode{Value: id.Value})
	}
}
