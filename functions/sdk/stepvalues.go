package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// resolveValues loads what a step.run carries by reference (DESIGN §11):
// each input parameter with a ValueRef gets its value, and each tag the
// engine left in the template because its value was offloaded
// (StepRun.Refs) is replaced by the loaded value, so that a step sees the
// same template it would have seen had the value been small. A reference
// that cannot be loaded is an error naming the parameter or tag and key.
func resolveValues(ctx context.Context, run *events.StepRun, store ArtifactReader, max int64) error {
	// The same value is often both an input and a tag (the engine sets
	// both for an offloaded input): load each key once.
	loaded := map[string]string{}
	load := func(what string, ref v1alpha1.ValueRef) (string, error) {
		if v, ok := loaded[ref.Key]; ok {
			return v, nil
		}
		b, err := GetValue(ctx, store, run.Namespace, ref, max)
		if err != nil {
			return "", fmt.Errorf("%s (key %s): %w", what, ref.Key, err)
		}
		loaded[ref.Key] = string(b)
		return string(b), nil
	}
	for i := range run.Template.Inputs.Parameters {
		p := &run.Template.Inputs.Parameters[i]
		if p.ValueRef == nil {
			continue
		}
		v, err := load("input parameter "+p.Name, *p.ValueRef)
		if err != nil {
			return err
		}
		p.Value = v1alpha1.ParseAnyString(v)
		p.ValueRef = nil
	}
	if len(run.Refs) == 0 {
		return nil
	}
	values := make(map[string]string, len(run.Refs))
	for tag, ref := range run.Refs {
		v, err := load("{{"+tag+"}}", ref)
		if err != nil {
			return err
		}
		values[tag] = v
	}
	t, err := substituteRefs(run.Template, values)
	if err != nil {
		return err
	}
	run.Template = t
	run.Refs = nil
	return nil
}

// substituteRefs replaces each {{tag}} of values (with or without spaces
// inside the braces, as the engine accepts both) in every string of the
// template. The template is walked as JSON so that every field, present
// and future, is covered without a list to keep up to date; only string
// values change, never keys or structure.
func substituteRefs(t v1alpha1.Template, values map[string]string) (v1alpha1.Template, error) {
	tags := make([]string, 0, len(values))
	for tag := range values {
		tags = append(tags, tag)
	}
	// Longest first, so that a tag that is a prefix of another inside
	// the alternation cannot shadow it.
	sort.Slice(tags, func(i, j int) bool { return len(tags[i]) > len(tags[j]) })
	alts := ""
	for i, tag := range tags {
		if i > 0 {
			alts += "|"
		}
		alts += regexp.QuoteMeta(tag)
	}
	re, err := regexp.Compile(`\{\{\s*(` + alts + `)\s*\}\}`)
	if err != nil {
		return t, fmt.Errorf("substitute offloaded values: %w", err)
	}
	raw, err := json.Marshal(t)
	if err != nil {
		return t, fmt.Errorf("substitute offloaded values: encode the template: %w", err)
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return t, fmt.Errorf("substitute offloaded values: decode the template: %w", err)
	}
	replace := func(s string) string {
		// One pass: a loaded value that itself contains a tag's text is
		// data and is not substituted again.
		return re.ReplaceAllStringFunc(s, func(m string) string {
			return values[re.FindStringSubmatch(m)[1]]
		})
	}
	tree = walkStrings(tree, replace)
	if raw, err = json.Marshal(tree); err != nil {
		return t, fmt.Errorf("substitute offloaded values: encode the template: %w", err)
	}
	var out v1alpha1.Template
	if err := json.Unmarshal(raw, &out); err != nil {
		return t, fmt.Errorf("substitute offloaded values: the substituted template does not decode: %w", err)
	}
	return out, nil
}

// walkStrings applies f to every string value of a decoded JSON tree.
func walkStrings(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case []any:
		for i := range x {
			x[i] = walkStrings(x[i], f)
		}
	case map[string]any:
		for k := range x {
			x[k] = walkStrings(x[k], f)
		}
	}
	return v
}

// offloadOutputs moves each output parameter and the result above the
// threshold to the store, so that the step.result and the Workflow's
// status stay bounded whatever the step produced.
func offloadOutputs(ctx context.Context, out *v1alpha1.NodeOutputs, store ArtifactStore, namespace string, threshold int64) error {
	if out == nil {
		return nil
	}
	names := make([]string, 0, len(out.Parameters))
	for name, v := range out.Parameters {
		if int64(len(v)) > threshold {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		ref, err := PutValue(ctx, store, namespace, []byte(out.Parameters[name]))
		if err != nil {
			return fmt.Errorf("output parameter %s: %w", name, err)
		}
		if out.ParameterRefs == nil {
			out.ParameterRefs = map[string]v1alpha1.ValueRef{}
		}
		out.ParameterRefs[name] = ref
		delete(out.Parameters, name)
	}
	if len(out.Parameters) == 0 {
		out.Parameters = nil
	}
	if out.Result != nil && int64(len(*out.Result)) > threshold {
		ref, err := PutValue(ctx, store, namespace, []byte(*out.Result))
		if err != nil {
			return fmt.Errorf("result: %w", err)
		}
		out.Result, out.ResultRef = nil, &ref
	}
	return nil
}
