package v1alpha1

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/zeroflow-dev/zeroflow/internal/expression"
	"github.com/zeroflow-dev/zeroflow/internal/interpolate"
)

// whenPlaceholders are what a tag of a when condition stands for while its
// syntax is checked: the string "x" first, then a number and a boolean,
// since a tag may give either ("{{item}} > 5", "{{inputs.parameters.on}} ==
// true") and expr rejects comparing a string with them.
func whenPlaceholders() []string { return []string{`"x"`, "0", "true"} }

// maxWhenCombinations bounds how many placeholder choices are tried; with
// more tags than that covers, only the uniform choices are.
const maxWhenCombinations = 81

// validateWhen checks that a when condition compiles once its tags are
// substituted. A tag inside a quoted string is replaced by x, keeping the
// string a string.
func validateWhen(path *field.Path, when string) field.ErrorList {
	if when == "" {
		return nil
	}
	tags, err := interpolate.Find(when)
	if err != nil {
		// checkString reports malformed tags.
		return nil
	}
	placeholders := whenPlaceholders()
	firstErr := expression.CheckWhen(substituteWhen(when, tags, func(int) string { return placeholders[0] }))
	if firstErr == nil || whenCompilesWithSome(when, tags) {
		return nil
	}
	detail := firstErr.Error()
	if len(tags) > 0 {
		// expr's message ends with a caret under the error, so the note
		// comes first.
		detail = `with each {{...}} tag replaced by "x": ` + detail
	}
	return field.ErrorList{field.Invalid(path, when, detail)}
}

// whenCompilesWithSome reports whether some choice of placeholders makes
// the condition compile.
func whenCompilesWithSome(when string, tags []interpolate.Tag) bool {
	placeholders := whenPlaceholders()
	combinations := 1
	for range tags {
		combinations *= len(placeholders)
		if combinations > maxWhenCombinations {
			break
		}
	}
	if combinations > maxWhenCombinations {
		for _, p := range placeholders {
			if expression.CheckWhen(substituteWhen(when, tags, func(int) string { return p })) == nil {
				return true
			}
		}
		return false
	}
	for c := range combinations {
		choice := func(i int) string {
			n := c
			for range i {
				n /= len(placeholders)
			}
			return placeholders[n%len(placeholders)]
		}
		if expression.CheckWhen(substituteWhen(when, tags, choice)) == nil {
			return true
		}
	}
	return false
}

// substituteWhen replaces the i-th tag of when by choice(i), or by x when
// the tag is inside a quoted string.
func substituteWhen(when string, tags []interpolate.Tag, choice func(i int) string) string {
	var b strings.Builder
	var quote byte
	last := 0
	for i, t := range tags {
		quote = trackQuotes(when[last:t.Start], quote)
		b.WriteString(when[last:t.Start])
		if quote != 0 {
			b.WriteString("x")
		} else {
			b.WriteString(choice(i))
		}
		last = t.End
	}
	b.WriteString(when[last:])
	return b.String()
}

// trackQuotes returns the quote that is open after s, given the one open
// before it (0 for none).
func trackQuotes(s string, quote byte) byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\'' || c == '`'):
			quote = c
		}
	}
	return quote
}
