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
// task's scope is its own variables over its dag's over the globals.
type scope struct {
	vars   map[string]string
	refs   *nodeRefs
	parent *scope
}

func (s *scope) child(vars map[string]string) *scope { return &scope{vars: vars, parent: s} }

func (s *scope) lookup(key string) (string, bool, error) {
	for c := s; c != nil; c = c.parent {
		if v, ok := c.vars[key]; ok {
			return v, true, nil
		}
		if c.refs != nil && strings.HasPrefix(key, c.refs.prefix+".") {
			v, ok, err := c.refs.lookup(key)
			if ok || err != nil {
				return v, ok, err
			}
		}
	}
	return "", false, nil
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
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	var params []param
	for _, p := range op.spec.Arguments.Parameters {
		v, ok := argumentValue([]v1alpha1.Parameter{p}, p.Name)
		if !ok {
			return nil, fmt.Errorf("spec.arguments.parameters.%s has no value", p.Name)
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
			g["workflow.outputs.parameters."+p.Name] = p.ValueString()
		}
	}
	return g, nil
}

// globalScope is the root of every scope.
func (op *operation) globalScope() *scope { return &scope{vars: op.globals} }

// inputScope is a template's own scope: its inputs over the globals.
func (op *operation) inputScope(in resolvedInputs) *scope {
	vars := make(map[string]string, len(in.params)+len(in.artifacts)+1)
	for k, v := range in.params {
		vars["inputs.parameters."+k] = v
	}
	for k, v := range in.artifacts {
		vars["inputs.artifacts."+k] = v
	}
	return op.globalScope().child(vars)
}
