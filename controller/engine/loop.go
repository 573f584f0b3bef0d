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
		if items.len() == 0 {
			return op.createFinal(id, v1alpha1.NodeSkipped, "Skipped, empty params")
		}
		n = op.newNode(v1alpha1.NodeRunning, v1alpha1.NodeTypeTaskGroup, "")
		op.setNode(id, n)
	}

	// One pass: advance the items that exist (a prefix, since items start
	// in order), then start the next ones while slots allow.
	blocked, why := op.blocked(l.group)
	var (
		created, unfulfilled int
		failed, errored      string
	)
	note := func(cid string, c v1alpha1.NodeStatus) {
		switch {
		case !c.Phase.Fulfilled():
			unfulfilled++
		case c.Phase == v1alpha1.NodeError && errored == "":
			errored = cid
		case c.Phase == v1alpha1.NodeFailed && failed == "":
			failed = cid
		}
		if c.Phase.FailedOrError() {
			l.bound.childFailed = true
		}
	}
	// Item IDs are built in a reused buffer: looking a node up by
	// string(buf) does not allocate, and most items need nothing more.
	key := append(make([]byte, 0, len(id)+12), id...)
	key = append(key, '(')
	prefix := len(key)
	for i := range items.len() {
		key = append(strconv.AppendInt(key[:prefix], int64(i), 10), ')')
		c, ok := op.status.Nodes[string(key)]
		if ok && c.Phase.Fulfilled() && !c.Phase.FailedOrError() {
			created++
			continue
		}
		if ok && c.Phase == v1alpha1.NodeRunning && (op.result == nil || op.result.NodeID != string(key)) && op.quietLeaf("", c, l.group.tmpl) {
			created++
			unfulfilled++
			continue
		}
		cid := string(key)
		if ok {
			created++
			if !c.Phase.Fulfilled() {
				wasRunning := c.Phase == v1alpha1.NodeRunning
				if after := op.execute(l.itemFrame(op, i, items.at(i))); after != nil {
					c = *after
				}
				if wasRunning && c.Phase != v1alpha1.NodeRunning {
					l.bound.running--
				}
			}
			note(cid, c)
			continue
		}
		if blocked || l.stopReason != "" || op.suspended || (l.bound.failFast && l.bound.childFailed) || l.bound.full() {
			break
		}
		raw := items.at(i)
		if l.when != "" {
			if skip, c := op.evalWhen(cid, l.when, l.itemScope(raw)); skip {
				created++
				note(cid, *c)
				continue
			}
		}
		c2 := op.execute(l.itemFrame(op, i, raw))
		if c2 == nil {
			break
		}
		created++
		note(cid, *c2)
	}

	switch {
	case unfulfilled > 0:
	case created < items.len():
		switch {
		case blocked:
			n = op.fulfil(id, n, v1alpha1.NodeFailed, why)
		case l.stopReason != "":
			n = op.fulfil(id, n, v1alpha1.NodeFailed, l.stopReason)
		case l.bound.failFast && l.bound.childFailed:
			n = op.fulfil(id, n, v1alpha1.NodeFailed, "template has failed or errored children and failFast enabled")
		}
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

// itemFrame is the frame of item i; its inputs (and so its item variables)
// are worked out only when needed.
func (l loopRun) itemFrame(op *operation, i int, raw json.RawMessage) frame {
	f := l.group
	f.id = itemID(l.group.id, i)
	f.inputs = op.inputsFrom(l.group.tmpl, l.args, l.itemScope(raw))
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

// itemList is a loop's items, produced on demand: a 10,000-item sequence
// need not be rendered on every advance.
type itemList interface {
	len() int
	at(i int) json.RawMessage
}

type rawItems []json.RawMessage

func (r rawItems) len() int                 { return len(r) }
func (r rawItems) at(i int) json.RawMessage { return r[i] }

type specItems []v1alpha1.Item

func (s specItems) len() int                 { return len(s) }
func (s specItems) at(i int) json.RawMessage { return s[i].Raw }

// sequenceItems are start, start±1, … rendered with format.
type sequenceItems struct {
	start, step, n int
	format         string
}

func (s sequenceItems) len() int { return s.n }

func (s sequenceItems) at(i int) json.RawMessage {
	b, _ := json.Marshal(fmt.Sprintf(s.format, s.start+i*s.step))
	return b
}

// loopItems expands a loop into its items.
func (op *operation) loopItems(l *loop, sc *scope) (itemList, error) {
	switch {
	case len(l.items) > 0:
		return specItems(l.items), nil
	case l.param != "":
		v, err := op.substituteString(l.param, sc)
		if err != nil {
			return nil, fmt.Errorf("withParam: %w", err)
		}
		var out []json.RawMessage
		if err := json.Unmarshal([]byte(v), &out); err != nil {
			return nil, fmt.Errorf("withParam value could not be parsed as a JSON list: %s: %v", clip(v), err)
		}
		return rawItems(out), nil
	default:
		return op.sequence(l.seq, sc)
	}
}

func (op *operation) sequence(s *v1alpha1.Sequence, sc *scope) (itemList, error) {
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
	seq := sequenceItems{start: start, step: 1, format: s.Format}
	if seq.format == "" {
		seq.format = "%d"
	}
	switch {
	case hasEnd && hasCount:
		return nil, fmt.Errorf("withSequence: set end or count, not both")
	case hasCount:
		if count < 0 {
			return nil, fmt.Errorf("withSequence.count is negative: %d", count)
		}
		seq.n = count
	case hasEnd:
		if end < start {
			seq.step = -1
			seq.n = start - end + 1
		} else {
			seq.n = end - start + 1
		}
	default:
		return nil, fmt.Errorf("withSequence needs end or count")
	}
	return seq, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
