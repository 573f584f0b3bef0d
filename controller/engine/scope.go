package engine

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/expression"
	"github.com/zeroflow-dev/zeroflow/internal/interpolate"
)

// scope holds the variables a tag can see. Lookups walk to the parent, so a
// task's scope is its own variables over its dag's over the globals. A
// variable whose value was offloaded (too large to inline) is in offloaded
// instead of vars: it has a reference, not a value.
type scope struct {
	vars      map[string]string
	offloaded map[string]v1alpha1.ValueRef
	refs      *nodeRefs
	parent    *scope
}

func (s *scope) child(vars map[string]string) *scope { return &scope{vars: vars, parent: s} }

// find returns a variable's value, or its reference when it is offloaded.
func (s *scope) find(key string) (string, *v1alpha1.ValueRef, bool, error) {
	for c := s; c != nil; c = c.parent {
		if v, ok := c.vars[key]; ok {
			return v, nil, true, nil
		}
		if ref, ok := c.offloaded[key]; ok {
			return "", &ref, true, nil
		}
		if c.refs != nil && strings.HasPrefix(key, c.refs.prefix+".") {
			v, ref, ok, err := c.refs.lookup(key)
			if ok || err != nil {
				return v, ref, ok, err
			}
		}
	}
	return "", nil, false, nil
}

// offloadedIn returns an offloaded variable that code names, if any: an
// expression sees no offloaded value, and its error should say why.
func (s *scope) offloadedIn(code string) (string, v1alpha1.ValueRef, bool) {
	for c := s; c != nil; c = c.parent {
		for name, ref := range c.offloaded {
			if strings.Contains(code, name) {
				return name, ref, true
			}
		}
		if c.refs != nil {
			for task, id := range c.refs.ids {
				n, ok := c.refs.op.node(id)
				if !ok || n.Outputs == nil {
					continue
				}
				base := c.refs.prefix + "." + task + ".outputs."
				if n.Outputs.ResultRef != nil && strings.Contains(code, base+"result") {
					return base + "result", *n.Outputs.ResultRef, true
				}
				for p, ref := range n.Outputs.ParameterRefs {
					if strings.Contains(code, base+"parameters."+p) {
						return base + "parameters." + p, ref, true
					}
				}
			}
		}
	}
	return "", v1alpha1.ValueRef{}, false
}

// lookup returns a variable's value; an offloaded one is an error, for the
// places that need the text itself.
func (s *scope) lookup(key string) (string, bool, error) {
	v, ref, ok, err := s.find(key)
	if ref != nil {
		return "", false, offloadedError(key, *ref)
	}
	return v, ok, err
}

// offloadedError says why an offloaded value cannot be used as text: the
// engine holds only its reference (the value is in the artifact store).
func offloadedError(key string, ref v1alpha1.ValueRef) error {
	return fmt.Errorf("{{%s}} is a value of %d bytes, offloaded to the artifact store because it is above the inline limit: "+
		"pass it whole as an argument (value: \"{{%s}}\") or use it in a step's template, where it is substituted, "+
		"but not inside a larger argument, an expression or a condition", key, ref.Size, key)
}

// flatten returns every variable, inner scopes winning, for expressions.
func (s *scope) flatten() map[string]string {
	var chain []*scope
	for c := s; c != nil; c = c.parent {
		chain = append(chain, c)
	}
	out := map[string]string{}
	for i := len(chain) - 1; i >= 0; i-- {
		if chain[i].refs != nil {
			chain[i].refs.addAll(out)
		}
		for k, v := range chain[i].vars {
			out[k] = v
		}
	}
	return out
}

// knownPrefixes are the variable families a tag may name. A tag outside them
// is left as written, as Argo does; a tag inside them that cannot be
// resolved is an error.
var knownPrefixes = []string{"inputs.", "outputs.", "workflow.", "tasks.", "steps.", "item", "retries", "lastRetry."}

func known(tag string) bool {
	for _, p := range knownPrefixes {
		if strings.HasPrefix(tag, p) {
			return true
		}
	}
	return false
}

// resolver substitutes tags from s.
func (op *operation) resolver(s *scope) interpolate.Resolver {
	return func(t interpolate.Tag) (string, bool, error) {
		if t.Expression {
			v, err := expression.Eval(t.Text, expression.Expand(s.flatten()))
			if err != nil {
				if name, ref, ok := s.offloadedIn(t.Text); ok {
					return "", false, offloadedError(name, ref)
				}
				return "", false, err
			}
			out, err := expression.Render(v)
			if err != nil {
				return "", false, fmt.Errorf("%s: %w", t, err)
			}
			return out, false, nil
		}
		v, ok, err := s.lookup(t.Text)
		if err != nil {
			return "", false, err
		}
		if ok {
			return v, false, nil
		}
		if known(t.Text) {
			return "", false, fmt.Errorf("cannot resolve %s", t)
		}
		return "", true, nil
	}
}

// leafResolver is the resolver of a leaf template's body: a tag naming an
// offloaded value is left as written and its reference recorded in refs,
// for the step's SDK to substitute (events.StepRun.Refs).
func (op *operation) leafResolver(s *scope, refs map[string]v1alpha1.ValueRef) interpolate.Resolver {
	plain := op.resolver(s)
	return func(t interpolate.Tag) (string, bool, error) {
		if !t.Expression {
			if _, ref, ok, err := s.find(t.Text); ok && err == nil && ref != nil {
				refs[t.Text] = *ref
				return "", true, nil
			}
		}
		return plain(t)
	}
}

// wholeTag returns the tag that is all of v ("{{tasks.A.outputs.result}}"),
// if v is one plain tag and nothing else.
func wholeTag(v string) (string, bool) {
	tags, err := interpolate.Find(v)
	if err != nil || len(tags) != 1 || tags[0].Expression || tags[0].Start != 0 || tags[0].End != len(v) {
		return "", false
	}
	return tags[0].Text, true
}

// findWhole resolves v when it is one whole tag naming an offloaded value.
func findWhole(v string, sc *scope) (*v1alpha1.ValueRef, error) {
	tag, ok := wholeTag(v)
	if !ok {
		return nil, nil
	}
	_, ref, _, err := sc.find(tag)
	return ref, err
}

// substituteString resolves the tags of one string.
func (op *operation) substituteString(s string, sc *scope) (string, error) {
	return interpolate.String(s, op.resolver(sc))
}

// buildGlobals returns the workflow.* variables.
func (op *operation) buildGlobals() (map[string]string, error) {
	g := map[string]string{
		"workflow.name":           op.run.Name,
		"workflow.namespace":      op.run.Namespace,
		"workflow.uid":            op.run.UID,
		"workflow.mainEntrypoint": op.spec.Entrypoint,
		"workflow.status":         string(op.status.Phase),
		"workflow.duration":       strconv.FormatFloat(op.now.Sub(op.base).Seconds(), 'f', 6, 64),
	}
	if !op.run.CreationTimestamp.IsZero() {
		ts := op.run.CreationTimestamp.UTC()
		g["workflow.creationTimestamp"] = ts.Format(time.RFC3339)
		g["workflow.creationTimestamp.RFC3339"] = ts.Format(time.RFC3339)
		g["workflow.creationTimestamp.s"] = strconv.FormatInt(ts.Unix(), 10)
	}
	type param struct {
		Name     string             `json:"name"`
		Value    string             `json:"value"`
		ValueRef *v1alpha1.ValueRef `json:"valueRef,omitempty"`
	}
	var params []param
	for _, p := range op.spec.Arguments.Parameters {
		v, ref, ok := argumentValue([]v1alpha1.Parameter{p}, p.Name)
		if !ok {
			return nil, fmt.Errorf("spec.arguments.parameters.%s has no value", p.Name)
		}
		if ref != nil {
			op.globalRefs["workflow.parameters."+p.Name] = *ref
			params = append(params, param{Name: p.Name, ValueRef: ref})
			continue
		}
		g["workflow.parameters."+p.Name] = v
		params = append(params, param{Name: p.Name, Value: v})
	}
	b, _ := json.Marshal(params)
	g["workflow.parameters.json"] = string(b)
	for k, v := range op.run.Labels {
		g["workflow.labels."+k] = v
	}
	for k, v := range op.run.Annotations {
		g["workflow.annotations."+k] = v
	}
	if op.status.Outputs != nil {
		for _, p := range op.status.Outputs.Parameters {
			if p.ValueRef != nil {
				op.globalRefs["workflow.outputs.parameters."+p.Name] = *p.ValueRef
				continue
			}
			g["workflow.outputs.parameters."+p.Name] = p.ValueString()
		}
		for _, a := range op.status.Outputs.Artifacts {
			g["workflow.outputs.artifacts."+a.Name] = a.Key
		}
	}
	return g, nil
}

// globalScope is the root of every scope.
func (op *operation) globalScope() *scope {
	return &scope{vars: op.globals, offloaded: op.globalRefs}
}

// inputScope is a template's own scope: its inputs over the globals.
func (op *operation) inputScope(in resolvedInputs) *scope {
	vars := make(map[string]string, len(in.params)+2*len(in.artifacts)+1)
	for k, v := range in.params {
		vars["inputs.parameters."+k] = v
	}
	for k, a := range in.artifacts {
		vars["inputs.artifacts."+k] = artifactLocation(a)
		if a.Path != "" {
			vars["inputs.artifacts."+k+".path"] = a.Path
		}
	}
	sc := op.globalScope().child(vars)
	if len(in.refs) > 0 {
		sc.offloaded = make(map[string]v1alpha1.ValueRef, len(in.refs))
		for k, r := range in.refs {
			sc.offloaded["inputs.parameters."+k] = r
		}
	}
	return sc
}
