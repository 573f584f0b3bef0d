package expression

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zeroflow-dev/zeroflow/internal/interpolate"
)

// SubstituteLiterals resolves the {{...}} tags of an expr-lang expression
// that is evaluated elsewhere, after substitution, as Argo does with an
// http template's successCondition. The result is code again, so each value
// is written as one literal, never as code (issue 11):
//
//   - inside a '...' or "..." string it is escaped for that quote;
//   - inside a `...` string its backticks are doubled, expr-lang's escape;
//   - out of quotes it is a number when it reads as one, true or false, or
//     else a double-quoted string: the literal a `when` binds (see
//     WhenTags), so "response.statusCode == {{inputs.parameters.code}}"
//     compares numbers as in Argo. A tag glued to a word ("{{x}}abc") makes
//     one literal with it;
//   - inside a comment it is dropped: it means nothing there, and pasted it
//     could close the comment.
//
// Tags that resolve keeps stay as written. The values need no budget here:
// the code grows by their length only, and MaxLength bounds it where it is
// compiled.
func SubstituteLiterals(code string, resolve interpolate.Resolver) (string, error) {
	if !interpolate.Has(code) {
		return code, nil
	}
	tags, err := interpolate.Find(code)
	if err != nil {
		return "", fmt.Errorf("%q: %w", clip(code), err)
	}
	next := 0
	// tagAt resolves the tag that starts at i, if any.
	tagAt := func(i int) (value string, keep bool, end int, found bool, err error) {
		if next >= len(tags) || tags[next].Start != i {
			return "", false, 0, false, nil
		}
		t := tags[next]
		next++
		if value, keep, err = resolve(t); err != nil {
			return "", false, 0, true, err
		}
		if keep {
			value = code[t.Start:t.End]
		}
		return value, keep, t.End, true, nil
	}
	// skipTag passes over the tag at i, unresolved, for comments.
	skipTag := func(i int) (end int, found bool) {
		if next >= len(tags) || tags[next].Start != i {
			return 0, false
		}
		next++
		return tags[next-1].End, true
	}

	var out []byte
	const (
		inCode = iota
		inQuote
		inLineComment
		inBlockComment
	)
	state := inCode
	var quote byte
	for i := 0; i < len(code); {
		switch state {
		case inLineComment, inBlockComment:
			if end, found := skipTag(i); found {
				i = end
				continue
			}
			c := code[i]
			out = append(out, c)
			i++
			if state == inLineComment && c == '\n' {
				state = inCode
			}
			if state == inBlockComment && c == '*' && i < len(code) && code[i] == '/' {
				out = append(out, '/')
				i++
				state = inCode
			}
		case inQuote:
			v, keep, end, found, err := tagAt(i)
			if err != nil {
				return "", err
			}
			if found {
				if keep {
					out = append(out, v...)
				} else {
					out = append(out, escapeIn(quote, v)...)
				}
				i = end
				continue
			}
			c := code[i]
			switch {
			case c == '\\' && quote != '`' && i+1 < len(code) && (next >= len(tags) || tags[next].Start != i+1):
				// An escape the author wrote, kept as it is: the
				// lexer skips the byte after a backslash.
				out = append(out, code[i:i+2]...)
				i += 2
			case c == '\\' && quote != '`':
				// A backslash before a tag would escape the value's
				// first byte (an escaped quote would become a
				// backslash and a closing quote): it stays a backslash.
				out = append(out, `\\`...)
				i++
			case c == quote && quote == '`' && i+1 < len(code) && code[i+1] == '`':
				out = append(out, "``"...)
				i += 2
			case c == quote:
				out = append(out, c)
				state = inCode
				i++
			default:
				out = append(out, c)
				i++
			}
		default:
			if next < len(tags) && tags[next].Start == i {
				// The run of word bytes and tags around this tag is one
				// word in the pasted text, so it is one literal here. The
				// word's start was written as code: it joins the literal.
				left := i
				for left > 0 && isWordByte(code[left-1]) {
					left--
				}
				out = out[:len(out)-(i-left)]
				var raw strings.Builder
				raw.WriteString(code[left:i])
				keptAll := true
				for {
					v, keep, end, found, err := tagAt(i)
					if err != nil {
						return "", err
					}
					if found {
						raw.WriteString(v)
						keptAll = keptAll && keep
						i = end
						continue
					}
					if i < len(code) && isWordByte(code[i]) {
						raw.WriteByte(code[i])
						i++
						continue
					}
					break
				}
				if keptAll {
					out = append(out, raw.String()...)
				} else {
					out = append(out, codeLiteral(raw.String())...)
				}
				continue
			}
			c := code[i]
			out = append(out, c)
			i++
			switch {
			case c == '"' || c == '\'' || c == '`':
				state, quote = inQuote, c
			case c == '/' && i < len(code) && code[i] == '/':
				out = append(out, '/')
				i++
				state = inLineComment
			case c == '/' && i < len(code) && code[i] == '*':
				out = append(out, '*')
				i++
				state = inBlockComment
			}
		}
	}
	return string(out), nil
}

// codeLiteral writes v, a value out of quotes, as the literal a when binds
// for it (literal): a number, a boolean or a double-quoted string.
func codeLiteral(v string) string {
	switch x := literal(v).(type) {
	case bool:
		return strconv.FormatBool(x)
	case int:
		if x < 0 {
			// In parentheses, so that "1-{{x}}" stays a subtraction.
			return "(" + strconv.Itoa(x) + ")"
		}
		return strconv.Itoa(x)
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			// Still a float, as the text was: "5.0" is not 5.
			s += ".0"
		}
		if x < 0 {
			return "(" + s + ")"
		}
		return s
	case string:
		return `"` + escapeIn('"', x) + `"`
	}
	return `"` + escapeIn('"', v) + `"`
}

// escapeIn escapes s for the inside of an expr-lang string literal opened
// with quote, so that it reads back as s: for ' and " (Go-like escapes)
// the backslash, the quote and control bytes, since a raw newline ends the
// literal and \r is normalized; for ` only the backtick, doubled. Invalid
// UTF-8 becomes U+FFFD, as the lexer would read it anyway.
func escapeIn(quote byte, s string) string {
	if quote == '`' {
		return strings.ReplaceAll(s, "`", "``")
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\uFFFD`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(quote):
			b.WriteByte('\\')
			b.WriteByte(quote)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// CheckWithTags reports a syntax error in code that still has its {{...}}
// tags, as SubstituteLiterals will give it: each tag stands for a literal
// (0 out of quotes) and the code of each {{= }} tag is checked too. Check
// alone reads "== {{x}}" as a malformed map literal.
func CheckWithTags(code string) error {
	placeholder := func(t interpolate.Tag) (string, bool, error) {
		if t.Expression {
			if err := Check(t.Text); err != nil {
				return "", false, fmt.Errorf("%s: %w", t, err)
			}
		}
		return "0", false, nil
	}
	substituted, err := SubstituteLiterals(code, placeholder)
	if err != nil {
		return fmt.Errorf("invalid expression: %w", err)
	}
	if err := Check(substituted); err != nil {
		return fmt.Errorf("invalid expression %q: %w", clip(code), err)
	}
	return nil
}
