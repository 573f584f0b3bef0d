package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/expression"
	"github.com/zeroflow-dev/zeroflow/internal/interpolate"
)

// execLeaf creates or advances a node that a function runs.
func (op *operation) execLeaf(f frame) *v1alpha1.NodeStatus {
	n, exists := op.node(f.id)
	if !exists {
		return op.startLeaf(f)
	}
	if n.Phase.Fulfilled() {
		if hb := op.takeHeartbeat(f.id); hb != nil {
			op.cancelCopy(hb, fmt.Sprintf("node %q is %s already", f.id, n.Phase))
		}
		return &n
	}
	if op.quietLeaf(f.id, n, f.tmpl) {
		return &n
	}
	n = op.advanceLeaf(f, n)
	return &n
}

// quietLeaf reports whether nothing can happen to a running leaf on this
// advance: no result for it, no backoff, timeout, stop, deadline or
// heartbeat or loss to consider. Most of a large fan-out is quiet on any
// advance but a tick.
func (op *operation) quietLeaf(id string, n v1alpha1.NodeStatus, t *v1alpha1.Template) bool {
	return n.Phase == v1alpha1.NodeRunning && n.Type == v1alpha1.NodeTypeLeaf && n.RetryAt == 0 &&
		t.Timeout == "" && op.shutdown == "" && !op.pastDeadline && !(op.in.Redispatch && n.Runner == "") &&
		(op.result == nil || op.result.NodeID != id) &&
		(op.in.Heartbeat == nil || op.in.Heartbeat.NodeID != id) &&
		(op.in.Kind != Tick || op.in.Liveness == (Liveness{}))
}

func (op *operation) startLeaf(f frame) *v1alpha1.NodeStatus {
	if !op.canStart(f) {
		return nil
	}
	in, err := f.inputs()
	if err != nil {
		n := op.newNode(v1alpha1.NodeError, v1alpha1.NodeTypeLeaf, err.Error())
		op.setNode(f.id, n)
		return &n
	}
	if f.bound.full() || op.workflowFull() {
		return nil
	}
	n := op.newNode(v1alpha1.NodeRunning, v1alpha1.NodeTypeLeaf, "")
	if err := op.dispatchAttempt(f, in, n); err != nil {
		n = op.newNode(v1alpha1.NodeError, v1alpha1.NodeTypeLeaf, err.Error())
		op.setNode(f.id, n)
		return &n
	}
	op.runningLeaves++
	if f.bound != nil {
		f.bound.running++
	}
	op.setNode(f.id, n)
	return &n
}

func (op *operation) workflowFull() bool {
	return op.spec.Parallelism != nil && op.runningLeaves >= *op.spec.Parallelism
}

// finishLeaf fulfils a running leaf and frees its parallelism slot.
func (op *operation) finishLeaf(id string, n v1alpha1.NodeStatus, phase v1alpha1.NodePhase, message string) v1alpha1.NodeStatus {
	if n.Phase == v1alpha1.NodeRunning {
		op.runningLeaves--
	}
	return op.fulfil(id, n, phase, message)
}

// attemptStart is when the current attempt of a leaf was dispatched.
func (op *operation) attemptStart(n v1alpha1.NodeStatus) time.Time {
	if n.Retries > 0 {
		return op.at(n.AttemptStarted)
	}
	return op.at(n.Started)
}

// advanceLeaf applies what happened to a running leaf: its result, a
// heartbeat, the end of a backoff, a timeout, a stop, the deadline or the
// loss of the attempt.
func (op *operation) advanceLeaf(f frame, n v1alpha1.NodeStatus) v1alpha1.NodeStatus {
	if r := op.takeResult(f.id, n); r != nil {
		return op.applyResult(f, n, r)
	}
	if hb := op.takeHeartbeat(f.id); hb != nil {
		n = op.applyHeartbeat(f.id, n, hb)
	}
	if n.RetryAt > 0 {
		return op.awaitBackoff(f, n)
	}
	if b, why := op.blocked(f); b {
		op.cancelAttempt(f, n, why)
		return op.finishLeaf(f.id, n, v1alpha1.NodeFailed, why)
	}
	timeout, err := op.leafTimeout(f)
	if err != nil {
		op.cancelAttempt(f, n, err.Error())
		return op.finishLeaf(f.id, n, v1alpha1.NodeError, err.Error())
	}
	start := op.attemptStart(n)
	if timeout > 0 {
		deadline := start.Add(timeout)
		if !op.now.Before(deadline) {
			msg := fmt.Sprintf("timeout: attempt %d did not finish within %s", n.Retries, timeout)
			op.cancelAttempt(f, n, msg)
			return op.attemptFailed(f, n, v1alpha1.NodeFailed, msg, nil)
		}
		op.wakeAt(deadline)
	}
	if why := op.lost(n, start); why != "" {
		// Argo fails a node whose pod vanished in Error, which
		// retryPolicy OnError and Always retry.
		op.cancelAttempt(f, n, why)
		return op.attemptFailed(f, n, v1alpha1.NodeError, why, nil)
	}
	if op.in.Redispatch && n.Runner == "" {
		in, err := f.inputs()
		if err != nil {
			return op.finishLeaf(f.id, n, v1alpha1.NodeError, err.Error())
		}
		if err := op.dispatchAttempt(f, in, n); err != nil {
			return op.finishLeaf(f.id, n, v1alpha1.NodeError, err.Error())
		}
	}
	return n
}

// lost says why the running attempt of n, dispatched at start, counts as
// lost ("" while it is alive).
func (op *operation) lost(n v1alpha1.NodeStatus, start time.Time) string {
	lv := op.in.Liveness
	if n.Runner != "" {
		last := op.at(n.Heartbeat)
		if lv.LostAfter > 0 && op.now.Sub(last) >= lv.LostAfter {
			return fmt.Sprintf("lost: attempt %d sent no heartbeat for %s (the last at %s)", n.Retries, op.now.Sub(last).Round(time.Second), last.Format(time.RFC3339))
		}
		return ""
	}
	if lv.StartTimeout > 0 && op.now.Sub(start) >= lv.StartTimeout {
		return fmt.Sprintf("lost: attempt %d sent neither a heartbeat nor a result within %s of its dispatch", n.Retries, lv.StartTimeout)
	}
	return ""
}

// takeHeartbeat returns the input's heartbeat if it is for node id.
func (op *operation) takeHeartbeat(id string) *HeartbeatOf {
	hb := op.in.Heartbeat
	if hb == nil || hb.NodeID != id || op.heartbeatFound {
		return nil
	}
	op.heartbeatFound = true
	return hb
}

// applyHeartbeat records that the current attempt of a running leaf is
// alive, or cancels the copy that sent it: one of an attempt that is over,
// or a second copy of the current one.
func (op *operation) applyHeartbeat(id string, n v1alpha1.NodeStatus, hb *HeartbeatOf) v1alpha1.NodeStatus {
	switch {
	case hb.Attempt != n.Retries || n.RetryAt > 0:
		op.cancelCopy(hb, fmt.Sprintf("attempt %d of node %q is over", hb.Attempt, id))
		return n
	case n.Runner != "" && n.Runner != hb.Runner:
		op.cancelCopy(hb, fmt.Sprintf("attempt %d of node %q runs as %s already", hb.Attempt, id, n.Runner))
		return n
	}
	at := op.ms(op.now)
	if n.Runner == "" || op.now.Sub(op.at(n.Heartbeat)) >= op.in.Liveness.HeartbeatEvery/2 {
		n.Runner, n.Heartbeat = hb.Runner, at
		op.setNode(id, n)
	}
	return n
}

// cancelAttempt asks the function of f to stop the current attempt of n.
func (op *operation) cancelAttempt(f frame, n v1alpha1.NodeStatus, reason string) {
	op.cancel = append(op.cancel, Cancel{NodeID: f.id, Attempt: n.Retries, Function: functionOf(f.tmpl), Reason: reason})
}

// cancelCopy asks the copy that sent hb to stop.
func (op *operation) cancelCopy(hb *HeartbeatOf, reason string) {
	op.cancel = append(op.cancel, Cancel{NodeID: hb.NodeID, Attempt: hb.Attempt, Function: hb.Function, Runner: hb.Runner, Reason: reason})
}

// takeResult returns the input's result if it is for the current attempt of
// this node.
func (op *operation) takeResult(id string, n v1alpha1.NodeStatus) *Result {
	r := op.result
	if r == nil || r.NodeID != id {
		return nil
	}
	op.resultFound = true
	op.result = nil
	if r.Attempt != n.Retries || n.RetryAt > 0 {
		op.ignored = fmt.Sprintf("result of attempt %d of node %q is stale: the current attempt is %d", r.Attempt, id, n.Retries)
		if n.RetryAt > 0 {
			op.ignored = fmt.Sprintf("result of attempt %d of node %q is stale: the node waits to retry", r.Attempt, id)
		}
		return nil
	}
	return r
}

func (op *operation) applyResult(f frame, n v1alpha1.NodeStatus, r *Result) v1alpha1.NodeStatus {
	if r.Phase != v1alpha1.NodeSucceeded {
		return op.attemptFailed(f, n, r.Phase, r.Message, r.Outputs)
	}
	outputs, err := op.collectOutputs(f.tmpl, r.Outputs)
	if err != nil {
		n.Outputs = r.Outputs
		return op.finishLeaf(f.id, n, v1alpha1.NodeError, err.Error())
	}
	n.Outputs = outputs
	op.publishGlobals(f.tmpl, outputs)
	return op.finishLeaf(f.id, n, v1alpha1.NodeSucceeded, r.Message)
}

// attemptFailed retries the node if its retry strategy allows, or fails it.
func (op *operation) attemptFailed(f frame, n v1alpha1.NodeStatus, phase v1alpha1.NodePhase, message string, outputs *v1alpha1.NodeOutputs) v1alpha1.NodeStatus {
	if outputs != nil {
		n.Outputs = outputs
	}
	rs := op.retryStrategy(f.tmpl)
	if rs == nil {
		return op.finishLeaf(f.id, n, phase, message)
	}
	d, err := op.decideRetry(rs, n, phase, message)
	if err != nil {
		return op.finishLeaf(f.id, n, v1alpha1.NodeError, err.Error())
	}
	if !d.retry {
		return op.finishLeaf(f.id, n, phase, d.message)
	}
	n.RetryAt = op.ms(op.now.Add(d.wait))
	n.Heartbeat, n.Runner = 0, ""
	n.Message = fmt.Sprintf("Backoff for %s after attempt %d: %s", d.wait, n.Retries, message)
	op.setNode(f.id, n)
	return op.awaitBackoff(f, n)
}

// awaitBackoff starts the next attempt once its time has come.
func (op *operation) awaitBackoff(f frame, n v1alpha1.NodeStatus) v1alpha1.NodeStatus {
	if b, why := op.blocked(f); b {
		if op.expired(f) {
			why = "retry exceeded workflow deadline " + op.deadline.Format(time.RFC3339)
		}
		return op.finishLeaf(f.id, n, v1alpha1.NodeFailed, why)
	}
	due := op.at(n.RetryAt)
	if op.suspended || op.now.Before(due) {
		op.wakeAt(due)
		return n
	}
	in, err := f.inputs()
	if err != nil {
		return op.finishLeaf(f.id, n, v1alpha1.NodeError, err.Error())
	}
	n.Retries++
	n.RetryAt = 0
	n.Message = ""
	n.Outputs = nil
	n.Heartbeat, n.Runner = 0, ""
	n.AttemptStarted = op.ms(op.now)
	if err := op.dispatchAttempt(f, in, n); err != nil {
		return op.finishLeaf(f.id, n, v1alpha1.NodeError, err.Error())
	}
	op.setNode(f.id, n)
	return n
}

// dispatchAttempt records a Dispatch action for the current attempt of n.
func (op *operation) dispatchAttempt(f frame, in resolvedInputs, n v1alpha1.NodeStatus) error {
	sc := op.leafScope(in, n)
	if paths := outputPaths(f.tmpl); len(paths) > 0 {
		sc = sc.child(paths)
	}
	refs := map[string]v1alpha1.ValueRef{}
	tmpl, err := op.resolveLeaf(f.tmpl, sc, in, refs)
	if err != nil {
		return err
	}
	d := Dispatch{NodeID: f.id, Attempt: n.Retries, Function: functionOf(tmpl), Template: *tmpl}
	if len(refs) > 0 {
		d.Refs = refs
	}
	if tmpl.Timeout != "" {
		timeout, err := time.ParseDuration(tmpl.Timeout)
		if err != nil {
			return fmt.Errorf("timeout %q: %w", tmpl.Timeout, err)
		}
		d.Deadline = op.attemptStart(n).Add(timeout)
		op.wakeAt(d.Deadline)
	}
	op.dispatch = append(op.dispatch, d)
	return nil
}

// outputPaths are {{outputs.artifacts.NAME.path}} and
// {{outputs.parameters.NAME.path}} of a leaf: where its outputs are written
// (exec maps them into the step's sandbox).
func outputPaths(t *v1alpha1.Template) map[string]string {
	out := map[string]string{}
	for _, a := range t.Outputs.Artifacts {
		if a.Path != "" {
			out["outputs.artifacts."+a.Name+".path"] = a.Path
		}
	}
	for _, p := range t.Outputs.Parameters {
		if p.ValueFrom != nil && p.ValueFrom.Path != "" {
			out["outputs.parameters."+p.Name+".path"] = p.ValueFrom.Path
		}
	}
	return out
}

func (op *operation) leafScope(in resolvedInputs, n v1alpha1.NodeStatus) *scope {
	return op.inputScope(in).child(map[string]string{"retries": strconv.Itoa(int(n.Retries))})
}

func (op *operation) leafTimeout(f frame) (time.Duration, error) {
	if f.tmpl.Timeout == "" {
		return 0, nil
	}
	raw := f.tmpl.Timeout
	if interpolate.Has(raw) {
		in, err := f.inputs()
		if err != nil {
			return 0, err
		}
		if raw, err = op.substituteString(raw, op.inputScope(in)); err != nil {
			return 0, fmt.Errorf("timeout: %w", err)
		}
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		return 0, fmt.Errorf("timeout %q: %w (use a unit, e.g. 30s)", raw, err)
	}
	return d, nil
}

// resolveLeaf substitutes every tag of a leaf template and fills in its
// input values.
// A tag naming an offloaded value is left as written and recorded in refs.
func (op *operation) resolveLeaf(t *v1alpha1.Template, sc *scope, in resolvedInputs, refs map[string]v1alpha1.ValueRef) (*v1alpha1.Template, error) {
	// An http successCondition is code that the http function evaluates
	// after substitution, as in Argo: its values are written as literals,
	// never pasted as code (issue 11), so it is taken out of the plain
	// substitution and done apart.
	var cond string
	if t.HTTP != nil && interpolate.Has(t.HTTP.SuccessCondition) {
		t = t.DeepCopy()
		cond, t.HTTP.SuccessCondition = t.HTTP.SuccessCondition, ""
	}
	out, err := op.substituteLeaf(t, sc, refs)
	if err != nil {
		return nil, err
	}
	if cond != "" {
		if out.HTTP.SuccessCondition, err = expression.SubstituteLiterals(cond, op.resolver(sc)); err != nil {
			return nil, fmt.Errorf("template %s: http.successCondition: %w", t.Name, err)
		}
	}
	return fillInputs(out, in), nil
}

// substituteLeaf resolves every tag of t as text, in a copy.
func (op *operation) substituteLeaf(t *v1alpha1.Template, sc *scope, refs map[string]v1alpha1.ValueRef) (*v1alpha1.Template, error) {
	out, err := substituteJSON(t, op.leafResolver(sc, refs))
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", t.Name, err)
	}
	if out == nil {
		return t.DeepCopy(), nil
	}
	return out, nil
}

// substituteJSON resolves the tags of every string in v, as its JSON, into
// a new value; nil when v has no tags (the caller keeps or copies v).
func substituteJSON[T any](v *T, resolve interpolate.Resolver) (*T, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if !bytes.Contains(raw, []byte("{{")) {
		return nil, nil
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if doc, err = interpolate.JSON(doc, resolve); err != nil {
		return nil, err
	}
	if raw, err = json.Marshal(doc); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	var out T
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("after substitution: %w", err)
	}
	return &out, nil
}

// fillInputs sets each input's value and drops what only the engine needs.
func fillInputs(out *v1alpha1.Template, in resolvedInputs) *v1alpha1.Template {
	out.RetryStrategy = nil
	for i := range out.Inputs.Parameters {
		p := &out.Inputs.Parameters[i]
		p.Value, p.ValueRef = v1alpha1.ParseAnyString(in.params[p.Name]), nil
		if ref, ok := in.refs[p.Name]; ok {
			p.Value, p.ValueRef = nil, &ref
		}
		p.Default, p.ValueFrom, p.Enum = nil, nil, nil
	}
	// An absent optional input is left out: the step has nothing to stage.
	arts := out.Inputs.Artifacts[:0]
	for _, a := range out.Inputs.Artifacts {
		if got, ok := in.artifacts[a.Name]; ok {
			got.Path, got.Mode, got.Optional = a.Path, a.Mode, a.Optional
			arts = append(arts, got)
		}
	}
	out.Inputs.Artifacts = arts
	if len(arts) == 0 {
		out.Inputs.Artifacts = nil
	}
	return out
}

func functionOf(t *v1alpha1.Template) string {
	switch {
	case t.Function != nil:
		return t.Function.Name
	case t.HTTP != nil:
		return FunctionHTTP
	case t.Resource != nil:
		return FunctionResource
	default:
		return FunctionExec
	}
}

// collectOutputs checks a result's outputs against the template's declared
// outputs, filling in defaults.
func (op *operation) collectOutputs(t *v1alpha1.Template, got *v1alpha1.NodeOutputs) (*v1alpha1.NodeOutputs, error) {
	var out v1alpha1.NodeOutputs
	if got != nil {
		out = *got.DeepCopy()
	}
	for name := range out.ParameterRefs {
		if _, ok := out.Parameters[name]; ok {
			return &out, fmt.Errorf("outputs.parameters.%s is both inline and offloaded", name)
		}
	}
	if out.ResultRef != nil && out.Result != nil {
		return &out, fmt.Errorf("outputs.result is both inline and offloaded")
	}
	for _, p := range t.Outputs.Parameters {
		if _, ok := out.Parameters[p.Name]; ok {
			continue
		}
		if _, ok := out.ParameterRefs[p.Name]; ok {
			continue
		}
		var v *v1alpha1.AnyString
		switch {
		case p.ValueFrom != nil && p.ValueFrom.Default != nil:
			v = p.ValueFrom.Default
		case p.Value != nil:
			v = p.Value
		case p.Default != nil:
			v = p.Default
		}
		if v == nil {
			return &out, fmt.Errorf("outputs.parameters.%s was not produced and has no default", p.Name)
		}
		if out.Parameters == nil {
			out.Parameters = map[string]string{}
		}
		out.Parameters[p.Name] = string(*v)
	}
	for name, loc := range out.Artifacts {
		if err := op.checkOutputArtifact(t, name, loc); err != nil {
			return &out, err
		}
	}
	for _, a := range t.Outputs.Artifacts {
		if _, ok := out.Artifacts[a.Name]; !ok && !a.Optional {
			return &out, fmt.Errorf("outputs.artifacts.%s was not produced", a.Name)
		}
	}
	if out.Parameters == nil && out.Result == nil && out.ExitCode == nil && out.Artifacts == nil && out.ParameterRefs == nil && out.ResultRef == nil {
		return nil, nil
	}
	return &out, nil
}

// publishGlobals records outputs that have a globalName in the workflow's
// outputs, where later templates see them as workflow.outputs.parameters.*
// and workflow.outputs.artifacts.*.
func (op *operation) publishGlobals(t *v1alpha1.Template, outs *v1alpha1.NodeOutputs) {
	if outs == nil {
		return
	}
	for _, p := range t.Outputs.Parameters {
		if p.GlobalName == "" {
			continue
		}
		global := v1alpha1.Parameter{Name: p.GlobalName}
		key := "workflow.outputs.parameters." + p.GlobalName
		if v, ok := outs.Parameters[p.Name]; ok {
			global.Value = v1alpha1.ParseAnyString(v)
			op.globals[key] = v
			delete(op.globalRefs, key)
		} else if ref, ok := outs.ParameterRefs[p.Name]; ok {
			global.ValueRef = &ref
			op.globalRefs[key] = ref
			delete(op.globals, key)
		} else {
			continue
		}
		if op.status.Outputs == nil {
			op.status.Outputs = &v1alpha1.Outputs{}
		}
		op.status.Outputs.Parameters = replaceByName(op.status.Outputs.Parameters, global, func(p v1alpha1.Parameter) string { return p.Name })
	}
	for _, a := range t.Outputs.Artifacts {
		loc, ok := outs.Artifacts[a.Name]
		if a.GlobalName == "" || !ok {
			continue
		}
		if op.status.Outputs == nil {
			op.status.Outputs = &v1alpha1.Outputs{}
		}
		op.status.Outputs.Artifacts = replaceByName(op.status.Outputs.Artifacts, v1alpha1.Artifact{Name: a.GlobalName, Key: loc}, func(a v1alpha1.Artifact) string { return a.Name })
		op.globals["workflow.outputs.artifacts."+a.GlobalName] = loc
	}
}

// replaceByName replaces the element of list named like v, or appends v.
func replaceByName[T any](list []T, v T, name func(T) string) []T {
	for i := range list {
		if name(list[i]) == name(v) {
			list[i] = v
			return list
		}
	}
	return append(list, v)
}
