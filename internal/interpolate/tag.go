// Package interpolate finds and replaces Argo-style {{...}} tags in strings
// and in decoded JSON documents. It knows nothing about what a tag means:
// the caller resolves each one.
package interpolate

import (
	"fmt"
	"strings"
)

// Tag is one {{...}} occurrence.
type Tag struct {
	// Text is the content between the braces, trimmed; for an expression tag
	// it is the expression without the leading "=".
	Text string
	// Expression is true for {{= expr }} tags.
	Expression bool
	// Start and End delimit the whole tag, braces included, in the source.
	Start, End int
}

// String gives the tag as written in normalised form, for messages.
func (t Tag) String() string {
	if t.Expression {
		return "{{=" + t.Text + "}}"
	}
	return "{{" + t.Text + "}}"
}

// Find returns the tags of s in order. An opening "{{" without a closing
// "}}" is an error that names its position.
func Find(s string) ([]Tag, error) {
	var tags []Tag
	for i := 0; ; {
		open := strings.Index(s[i:], "{{")
		if open < 0 {
			return tags, nil
		}
		open += i
		end := closing(s, open+2)
		if end < 0 {
			return tags, fmt.Errorf("unterminated tag at offset %d: %q", open, clip(s[open:]))
		}
		body := strings.TrimSpace(s[open+2 : end])
		tag := Tag{Text: body, Start: open, End: end + 2}
		if strings.HasPrefix(body, "=") {
			tag.Expression = true
			tag.Text = strings.TrimSpace(body[1:])
		}
		if tag.Text == "" {
			return tags, fmt.Errorf("empty tag at offset %d", open)
		}
		tags = append(tags, tag)
		i = end + 2
	}
}

// closing finds the "}}" that ends a tag opened before from. Inside an
// expression, a "}}" that is part of a string literal or closes a map
// literal must not end the tag, so quotes and braces are tracked.
func closing(s string, from int) int {
	depth := 0
	var quote byte
	for i := from; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '{':
			depth++
		case c == '}':
			if depth == 0 {
				if i+1 < len(s) && s[i+1] == '}' {
					return i
				}
				continue
			}
			depth--
		}
	}
	return -1
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Resolver returns a tag's replacement. keep=true leaves the tag as written.
type Resolver func(t Tag) (value string, keep bool, err error)

// String replaces every tag of s.
func String(s string, resolve Resolver) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	tags, err := Find(s)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	last := 0
	for _, t := range tags {
		v, keep, err := resolve(t)
		if err != nil {
			return "", err
		}
		b.WriteString(s[last:t.Start])
		if keep {
			b.WriteString(s[t.Start:t.End])
		} else {
			b.WriteString(v)
		}
		last = t.End
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

// JSON replaces tags in every string (values, not keys) of a decoded JSON
// document (maps, slices and scalars as encoding/json produces them) and
// returns the new document. The input is not modified.
func JSON(v any, resolve Resolver) (any, error) {
	switch x := v.(type) {
	case string:
		return String(x, resolve)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := JSON(e, resolve)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := JSON(e, resolve)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = r
		}
		return out, nil
	default:
		return v, nil
	}
}

// Has reports whether s contains a tag opening.
func Has(s string) bool { return strings.Contains(s, "{{") }
