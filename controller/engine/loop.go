package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// itemID is the ID of item i of a loop group.
func itemID(groupID string, i int) string { return groupID + "(" + strconv.Itoa(i) + ")" }

// loop is withItems, withParam or withSequence.
type loop struct {
	items []v1alpha1.Item
	param string
	seq   *v1alpha1.Sequence
}

// loopOf returns the loop of a task or step, or nil. An empty withItems is
// no loop (the task runs once), as in Argo.
func loopOf(items []v1alpha1.Item, param string, seq *v1alpha1.Sequence) *loop {
	if len(items) == 0 && param == "" && seq == nil {
		return nil
	}
	return &loop{items: items, param: param, seq: seq}
}

// loopRun is one loop group to execute.
type loopRun struct {
	// group is the frame of the task or step: its ID is the group's, its
	// template is what every item runs.
	group frame
	loop  *loop
	// sc is the scope of the dag or steps the loop is in.
	sc    *scope
	when  string
	args  v1alpha1.Arguments
	bound *boundary
	// stopReason, when set, is why the enclosing dag starts nothing new.
	stopReason string
}

func (op *operation) execLoop(l loopRun) *v1alpha1.NodeStatus {
	id := l.group.id
	n, exists := op.node(id)
	if n.Phase.Fulfilled() {
		return &n
	}
	if !exists && !op.canStart(l.group) {
		return nil
	}
	items, err := op.loopItems(l.loop, l.sc)
	if err != nil {
		if !exists {
			return op.createFinal(id, v1alpha1.NodeError, err.Error())
		}
		n = op.fulfil(id, n, v1alpha1.NodeError, err.Error())
		return &n
	}
	if !exists {
		if len(items) == 0 {
			return op.createFinal(id, v1alpha1.NodeSkipped, "Skipped, empty params")
		}
		n = op.newNode(v1alpha1.NodeRunning, v1alpha1.NodeTypeTaskGroup, "")
		op.setNode(id, n)
	}

	blocked, why := op.blocked(l.group)
	created := 0
	for i, raw := range items {
		cid := itemID(id, i)
		c, ok := op.node(cid)
		if ok {
			created++
			if !c.Phase.Fulfilled() {
				wasRunning := c.Phase == v1alpha1.NodeRunning
				if after := op.execute(l.itemFrame(op, i, raw)); after != nil {
					c = *after
				}
				if wasRunning && c.Phase != v1alpha1.NodeRunning {
					l.bound.running--
				}
			}
			if c.Phase.FailedOrError() {
				l.bound.childFailed = true
			}
			continue
		}
		if blocked || l.stopReason != "" || op.suspended || (l.bound.failFast && l.bound.childFailed) || l.bound.full() {
			break
		}
		f := l.itemFrame(op, i, raw)
		if l.when != "" {
			if skip, _ := op.evalWhen(cid, l.when, l.itemScope(raw)); skip {
				created++
				continue
			}
		}
		c2 := op.execute(f)
		if c2 == nil {
			break
		}
		created++
		if c2.Phase.FailedOrError() {
			l.bound.childFailed = true
		}
	}

	if created < len(items) {
		for i := range created {
			if c, _ := op.node(itemID(id, i)); !c.Phase.Fulfilled() {
				return &n
			}
		}
		switch {
		case blocked:
			n = op.fulfil(id, n, v1alpha1.NodeFailed, why)
		case l.stopReason != "":
			n = op.fulfil(id, n, v1alpha1.NodeFailed, l.stopReason)
		case l.bound.failFast && l.bound.childFailed:
			n = op.fulfil(id, n, v1alpha1.NodeFailed, "template has failed or errored children and failFast enabled")
		}
		return &n
	}
	var failed, errored string
	for i := range items {
		c, _ := op.node(itemID(id, i))
		if !c.Phase.Fulfilled() {
			return &n
		}
		switch {
		case c.Phase == v1alpha1.NodeError && errored == "":
			errored = itemID(id, i)
		case c.Phase == v1alpha1.NodeFailed && failed == "":
			failed = itemID(id, i)
		}
	}
	switch {
	case errored != "":
		n = op.fulfil(id, n, v1alpha1.NodeError, fmt.Sprintf("child '%s' errored", errored))
	case failed != "":
		n = op.fulfil(id, n, v1alpha1.NodeFailed, fmt.Sprintf("child '%s' failed", failed))
	default:
		n = op.fulfil(id, n, v1alpha1.NodeSucceeded, "")
	}
	return &n
}

// itemScope adds item and item.<key> to the loop's scope.
func (l loopRun) itemScope(raw json.RawMessage) *scope {
	return l.sc.child(itemVars(raw))
}

func (l loopRun) itemFrame(op *operation, i int, raw json.RawMessage) frame {
	f := l.group
	f.id = itemID(l.group.id, i)
	isc := l.itemScope(raw)
	tmpl := l.group.tmpl
	args := l.args
	f.inputs = memoInputs(func() (resolvedInputs, error) {
		a, err := op.substituteArguments(args, isc)
		if err != nil {
			return resolvedInputs{}, err
		}
		return bindInputs(tmpl, a)
	})
	return f
}

// itemVars renders an item as Argo does: a string as itself, a number or
// boolean as written, a map or list as compact JSON; each key of a map also
// as item.<key>.
func itemVars(raw json.RawMessage) map[string]string {
	vars := map[string]string{"item": itemText(raw)}
	var m map[string]json.RawMessage
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) && json.Unmarshal(raw, &m) == nil {
		for k, v := range m {
			vars["item."+k] = itemText(v)
		}
	}
	return vars
}

func itemText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s
	}
	if bytes.Equal(raw, []byte("null")) {
		return ""
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		return buf.String()
	}
	return string(raw)
}

// loopItems expands a loop into its items' JSON.
func (op *operation) loopItems(l *loop, sc *scope) ([]json.RawMessage, error) {
	switch {
	case len(l.items) > 0:
		out := make([]json.RawMessage, len(l.items))
		for i, it := range l.items {
			out[i] = it.Raw
		}
		return out, nil
	case l.param != "":
		v, err := op.substituteString(l.param, sc)
		if err != nil {
			return nil, fmt.Errorf("withParam: %w", err)
		}
		var out []json.RawMessage
		if err := json.Unmarshal([]byte(v), &out); err != nil {
			return nil, fmt.Errorf("withParam value could not be parsed as a JSON list: %s: %v", clip(v), err)
		}
		return out, nil
	default:
		return op.sequence(l.seq, sc)
	}
}

func (op *operation) sequence(s *v1alpha1.Sequence, sc *scope) ([]json.RawMessage, error) {
	num := func(field string, v *v1alpha1.AnyString) (int, bool, error) {
		if v == nil {
			return 0, false, nil
		}
		text, err := op.substituteString(string(*v), sc)
		if err != nil {
			return 0, false, fmt.Errorf("withSequence.%s: %w", field, err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil {
			return 0, false, fmt.Errorf("withSequence.%s: %q is not an integer", field, text)
		}
		return n, true, nil
	}
	start, _, err := num("start", s.Start)
	if err != nil {
		return nil, err
	}
	end, hasEnd, err := num("end", s.End)
	if err != nil {
		return nil, err
	}
	count, hasCount, err := num("count", s.Count)
	if err != nil {
		return nil, err
	}
	switch {
	case hasEnd && hasCount:
		return nil, fmt.Errorf("withSequence: set end or count, not both")
	case hasCount:
		if count < 0 {
			return nil, fmt.Errorf("withSequence.count is negative: %d", count)
		}
		if count == 0 {
			return nil, nil
		}
		end = start + count - 1
	case !hasEnd:
		return nil, fmt.Errorf("withSequence needs end or count")
	}
	format := s.Format
	if format == "" {
		format = "%d"
	}
	step := 1
	if end < start {
		step = -1
	}
	var out []json.RawMessage
	for i := start; ; i += step {
		b, _ := json.Marshal(fmt.Sprintf(format, i))
		out = append(out, b)
		if i == end {
			return out, nil
		}
	}
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
