package v1alpha1

import (
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// eachString calls fn with every string held in v (strings, and named
// string types such as AnyString) and its field path, naming fields by their
// JSON names as users write them. Walking by reflection means a field added
// to a template later is checked for tags without anyone remembering to.
func eachString(v reflect.Value, path *field.Path, fn func(*field.Path, string)) {
	switch v.Kind() {
	case reflect.String:
		fn(path, v.String())
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			eachString(v.Elem(), path, fn)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			eachString(v.Index(i), path.Index(i), fn)
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			eachString(v.MapIndex(k), path.Key(k.String()), fn)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			name, inline, ok := jsonName(v.Type().Field(i))
			if !ok {
				continue
			}
			child := path
			if !inline {
				child = path.Child(name)
			}
			eachString(v.Field(i), child, fn)
		}
	}
}

// jsonName is the JSON name of a struct field. Fields without a JSON name
// (json:"-", unexported, or untagged like intstr.IntOrString's) are not
// written by users under that name, so they are skipped; embedded fields
// tagged inline have no name of their own.
func jsonName(f reflect.StructField) (name string, inline, ok bool) {
	if !f.IsExported() {
		return "", false, false
	}
	tag, tagged := f.Tag.Lookup("json")
	if !tagged || tag == "-" {
		return "", false, false
	}
	name, _, _ = strings.Cut(tag, ",")
	if name == "" {
		return "", f.Anonymous, f.Anonymous
	}
	return name, false, true
}
