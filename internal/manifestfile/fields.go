package manifestfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// maxUnknownFields bounds the unknown fields one document reports.
const maxUnknownFields = 50

// unknownField is a field of a document that its kind does not have.
type unknownField struct {
	path, name, suggestion string
	line                   int
}

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

// unknownFields walks the document's YAML beside t (the Go type its kind
// decodes into) and returns every field t does not have, with its full
// path and line, as kubectl's strict field validation reports them, and a
// known field's name when one is close. Strict decoding stops at the first
// one and names no line.
func unknownFields(raw []byte, t reflect.Type) ([]unknownField, error) {
	var doc kyaml.Node
	if err := kyaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	var out []unknownField
	node := &doc
	if node.Kind == kyaml.DocumentNode && len(node.Content) == 1 {
		node = node.Content[0]
	}
	walkFields(node, t, "", &out, 0)
	return out, nil
}

// maxFieldDepth bounds the walk: no real manifest nests this deep, and an
// aliased YAML bomb cannot make it run long.
const maxFieldDepth = 64

func walkFields(n *kyaml.Node, t reflect.Type, path string, out *[]unknownField, depth int) {
	if n == nil || depth > maxFieldDepth || len(*out) >= maxUnknownFields {
		return
	}
	if n.Kind == kyaml.AliasNode {
		n = n.Alias
		if n == nil {
			return
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	// A type that decodes itself (a quantity, a time, raw JSON, an
	// any-string) takes what it takes.
	if t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == kyaml.MappingNode:
		fields := jsonFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, value := n.Content[i], n.Content[i+1]
			ft, ok := fields[key.Value]
			if !ok {
				*out = append(*out, unknownField{path: join(path, key.Value), name: key.Value, line: key.Line, suggestion: closest(key.Value, fields)})
				if len(*out) >= maxUnknownFields {
					return
				}
				continue
			}
			walkFields(value, ft, join(path, key.Value), out, depth+1)
		}
	case t.Kind() == reflect.Map && n.Kind == kyaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkFields(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), out, depth+1)
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == kyaml.SequenceNode:
		for i, item := range n.Content {
			walkFields(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), out, depth+1)
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// jsonFields are the fields of struct type t by their JSON names, with the
// fields of inlined structs (embedded, or tagged ",inline").
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		inline := strings.Contains(","+opts+",", ",inline,") || (f.Anonymous && name == "")
		if inline {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// closest is the known field nearest to name (case aside, or at most two
// edits away), or "" when none is.
func closest(name string, fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	best, bestDist := "", 3
	for _, k := range names {
		if strings.EqualFold(k, name) {
			return k
		}
		if d := editDistance(strings.ToLower(name), strings.ToLower(k), bestDist); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or limit when it is
// at least limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit)
}

// unknownFieldsError is every unknown field of d, one line each: the file
// and line of the field, the object, the field's path, and a suggestion.
func unknownFieldsError(d Document, fields []unknownField) error {
	errs := make([]error, 0, len(fields))
	for _, f := range fields {
		msg := fmt.Sprintf("%s:%d: %s: %s: unknown field %q", d.File, d.Line+f.line-1, d.Ref(), f.path, f.name)
		if f.suggestion != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", f.suggestion)
		}
		errs = append(errs, errors.New(msg))
	}
	if len(fields) >= maxUnknownFields {
		errs = append(errs, fmt.Errorf("%s: %s: more unknown fields not shown (at most %d are)", d.Source(), d.Ref(), maxUnknownFields))
	}
	return errors.Join(errs...)
}
