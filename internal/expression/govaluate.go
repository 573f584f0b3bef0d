package expression

import "strings"

// FromGovaluate rewrites the govaluate habits of Argo Events expressions
// into expr-lang, so that Sensors written for Argo keep working:
//
//	a =~ "re"      →  a matches "re"
//	a !~ "re"      →  a not matches "re"
//	x IN (1, 2)    →  x in [1, 2]     (IN in any case)
//
// String literals are copied untouched, so a "=~" inside quotes stays
// text. Everything else passes through as is: expr-lang then reports what it
// does not understand, with the position in the rewritten code.
func FromGovaluate(code string) string {
	var b strings.Builder
	b.Grow(len(code) + 16)
	// closers holds, for each open parenthesis, what closes it: ")" for a
	// group, "]" for the list of an IN.
	var closers []byte
	for i := 0; i < len(code); {
		c := code[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			end := stringEnd(code, i)
			b.WriteString(code[i:end])
			i = end
		case strings.HasPrefix(code[i:], "=~"):
			b.WriteString(" matches ")
			i += 2
		case strings.HasPrefix(code[i:], "!~"):
			b.WriteString(" not matches ")
			i += 2
		case c == '(':
			closers = append(closers, ')')
			b.WriteByte(c)
			i++
		case c == ')':
			if n := len(closers); n > 0 {
				c = closers[n-1]
				closers = closers[:n-1]
			}
			b.WriteByte(c)
			i++
		case isWordByte(c):
			end := i
			for end < len(code) && isWordByte(code[end]) {
				end++
			}
			next := end
			for next < len(code) && isSpace(code[next]) {
				next++
			}
			// A member named "in" (x.in) is not the operator.
			if strings.EqualFold(code[i:end], "in") && next < len(code) && code[next] == '(' && !afterDot(code, i) {
				b.WriteString("in [")
				closers = append(closers, ']')
				i = next + 1
				continue
			}
			b.WriteString(code[i:end])
			i = end
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// stringEnd returns the offset just after the string literal that starts at
// start, or len(code) when it is not closed.
func stringEnd(code string, start int) int {
	quote := code[start]
	for i := start + 1; i < len(code); i++ {
		switch code[i] {
		case '\\':
			// Raw (backquoted) strings have no escapes.
			if quote != '`' {
				i++
			}
		case quote:
			return i + 1
		}
	}
	return len(code)
}

// isWordByte covers identifiers and numbers; bytes of multi-byte runes
// count too, so that a word is never split inside a rune.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func afterDot(code string, i int) bool {
	return strings.HasSuffix(strings.TrimRight(code[:i], " \t\n\r"), ".")
}
