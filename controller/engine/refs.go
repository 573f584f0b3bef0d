package engine

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// nodeRefs resolves tasks.<name>.* or steps.<name>.* from the nodes of the
// tasks or steps of one dag or steps template.
type nodeRefs struct {
	op     *operation
	prefix string
	ids    map[string]string
	// template returns the template a task or step runs, for the declared
	// defaults of outputs that a skipped node did not produce.
	template func(name string) *v1alpha1.Template
}

// lookup returns a reference's value, or the reference of an offloaded one.
func (r *nodeRefs) lookup(key string) (string, *v1alpha1.ValueRef, bool, error) {
	rest := strings.TrimPrefix(key, r.prefix+".")
	name, field, _ := strings.Cut(rest, ".")
	id, ok := r.ids[name]
	if !ok {
		return "", nil, false, nil
	}
	n, ok := r.op.node(id)
	if !ok {
		return "", nil, false, fmt.Errorf("%s: %s has not run yet", key, name)
	}
	switch field {
	case "id":
		return id, nil, true, nil
	case "status":
		return string(n.Phase), nil, true, nil
	case "startedAt":
		return r.op.at(n.Started).Format(time.RFC3339), nil, true, nil
	case "finishedAt":
		if !n.Phase.Fulfilled() {
			return "", nil, true, nil
		}
		return r.op.at(n.Finished).Format(time.RFC3339), nil, true, nil
	}
	if !strings.HasPrefix(field, "outputs") {
		return "", nil, false, fmt.Errorf("%s: unknown field %q of %s", key, field, name)
	}
	if ref := offloadedOutput(n, field); ref != nil {
		return "", ref, true, nil
	}
	outs := r.outputs(id, n)
	if n.Type == v1alpha1.NodeTypeTaskGroup {
		if why, ok := outs[offloadedMark+field]; ok {
			return "", nil, false, fmt.Errorf("%s: %s", key, why)
		}
	}
	if n.Phase == v1alpha1.NodeSkipped || n.Phase == v1alpha1.NodeOmitted {
		// An absent output of a node that did not run: the producer's
		// declared default, or empty (Argo v4 semantics).
		if v, ok := outs[field]; ok {
			return v, nil, true, nil
		}
		return r.declaredDefault(name, field), nil, true, nil
	}
	if v, ok := outs[field]; ok {
		return v, nil, true, nil
	}
	if v := r.declaredDefault(name, field); v != "" {
		return v, nil, true, nil
	}
	return "", nil, false, fmt.Errorf("%s: %s (%s) has no %s", key, name, n.Phase, field)
}

// offloadedMark prefixes, in an aggregate's map, the fields that cannot be
// aggregated because an item's value is offloaded; the value says why.
const offloadedMark = "\x00offloaded:"

// offloadedOutput is the reference of a node's offloaded output field.
func offloadedOutput(n v1alpha1.NodeStatus, field string) *v1alpha1.ValueRef {
	if n.Outputs == nil {
		return nil
	}
	if field == "outputs.result" {
		return n.Outputs.ResultRef
	}
	if p, ok := strings.CutPrefix(field, "outputs.parameters."); ok {
		if ref, ok := n.Outputs.ParameterRefs[p]; ok {
			return &ref
		}
	}
	return nil
}

// outputs flattens a node's outputs to field → value, aggregating loop items.
func (r *nodeRefs) outputs(id string, n v1alpha1.NodeStatus) map[string]string {
	if n.Type == v1alpha1.NodeTypeTaskGroup {
		return r.op.aggregate(id)
	}
	out := map[string]string{}
	if n.Outputs == nil {
		return out
	}
	if n.Outputs.Result != nil {
		out["outputs.result"] = *n.Outputs.Result
	}
	if n.Outputs.ExitCode != nil {
		out["outputs.exitCode"] = strconv.Itoa(int(*n.Outputs.ExitCode))
		out["exitCode"] = out["outputs.exitCode"]
	}
	for k, v := range n.Outputs.Parameters {
		out["outputs.parameters."+k] = v
	}
	for k, v := range n.Outputs.Artifacts {
		out["outputs.artifacts."+k] = v
	}
	return out
}

func (r *nodeRefs) declaredDefault(name, field string) string {
	param, ok := strings.CutPrefix(field, "outputs.parameters.")
	if !ok || r.template == nil {
		return ""
	}
	t := r.template(name)
	if t == nil {
		return ""
	}
	for _, p := range t.Outputs.Parameters {
		if p.Name != param {
			continue
		}
		if p.ValueFrom != nil && p.ValueFrom.Default != nil {
			return string(*p.ValueFrom.Default)
		}
		if p.Default != nil {
			return string(*p.Default)
		}
	}
	return ""
}

// addAll materialises every reference, for expression environments.
func (r *nodeRefs) addAll(into map[string]string) {
	for name, id := range r.ids {
		n, ok := r.op.node(id)
		if !ok {
			continue
		}
		base := r.prefix + "." + name + "."
		into[base+"id"] = id
		into[base+"status"] = string(n.Phase)
		for k, v := range r.outputs(id, n) {
			if !strings.HasPrefix(k, offloadedMark) {
				into[base+k] = v
			}
		}
	}
}

// aggregate gives a loop group's outputs as JSON lists over its items that
// succeeded, in item order: outputs.result is a list of the results (each
// parsed as JSON when it is JSON, else kept as a string);
// outputs.parameters.<p> is a list of the values (parsed when every one is a
// JSON object or array, else strings, as in Argo); outputs.parameters is a
// list of {name: value} maps.
func (op *operation) aggregate(groupID string) map[string]string {
	var (
		results   []any
		perItem   []map[string]string
		hasResult bool
	)
	names := map[string]bool{}
	offloaded := map[string]int{}
	for i := 0; ; i++ {
		n, ok := op.node(itemID(groupID, i))
		if !ok {
			break
		}
		if n.Phase != v1alpha1.NodeSucceeded || n.Outputs == nil {
			continue
		}
		if n.Outputs.ResultRef != nil {
			offloaded["outputs.result"] = i
		}
		for k := range n.Outputs.ParameterRefs {
			offloaded["outputs.parameters."+k] = i
			offloaded["outputs.parameters"] = i
		}
		if n.Outputs.Result != nil {
			hasResult = true
			results = append(results, jsonOrString(*n.Outputs.Result))
		}
		if len(n.Outputs.Parameters) > 0 {
			perItem = append(perItem, n.Outputs.Parameters)
			for k := range n.Outputs.Parameters {
				names[k] = true
			}
		}
	}
	out := map[string]string{}
	if hasResult {
		out["outputs.result"] = mustJSON(results)
	}
	if len(perItem) > 0 {
		out["outputs.parameters"] = mustJSON(perItem)
	}
	sorted := make([]string, 0, len(names))
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, name := range sorted {
		var values []string
		allJSON := true
		for _, m := range perItem {
			v, ok := m[name]
			if !ok {
				continue
			}
			values = append(values, v)
			t := strings.TrimSpace(v)
			if !(strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[")) || !json.Valid([]byte(t)) {
				allJSON = false
			}
		}
		if allJSON {
			raw := make([]json.RawMessage, len(values))
			for i, v := range values {
				raw[i] = json.RawMessage(strings.TrimSpace(v))
			}
			out["outputs.parameters."+name] = mustJSON(raw)
		} else {
			out["outputs.parameters."+name] = mustJSON(values)
		}
	}
	for field, item := range offloaded {
		delete(out, field)
		out[offloadedMark+field] = fmt.Sprintf("item %d's %s is offloaded (too large to inline), and a loop's outputs are aggregated only from inline values: "+
			"read the items' outputs in a step, or keep them under the offload threshold", item, field)
	}
	return out
}

func jsonOrString(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		return json.RawMessage(strings.TrimSpace(s))
	}
	return s
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only values built above from strings and valid JSON reach here.
		panic(fmt.Sprintf("engine: marshal aggregate: %v", err))
	}
	return string(b)
}
