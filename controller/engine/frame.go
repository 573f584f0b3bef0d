package engine

import (
	"fmt"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// frame is one node to execute: its ID, its template and how to get its
// inputs.
type frame struct {
	id   string
	tmpl *v1alpha1.Template
	// ref is the WorkflowTemplate that tmpl came from through templateRef;
	// names of templates inside tmpl are looked up there. "" is the
	// workflow's own templates.
	ref    string
	inputs func() (resolvedInputs, error)
	// bound is the parallelism of the dag or steps this node is a child of.
	bound *boundary
	// exit marks nodes of exit handlers, which run through Stop and past
	// the deadline.
	exit  bool
	depth int
	// err, when set, is why the node cannot run (e.g. an unknown template).
	err error
}

// resolvedInputs are a template's input values after argument passing.
type resolvedInputs struct {
	params map[string]string
	// refs are the input parameters whose values are offloaded.
	refs map[string]v1alpha1.ValueRef
	// artifacts are the input artifacts with their locations resolved;
	// an optional one that is absent is not here.
	artifacts map[string]v1alpha1.Artifact
}

// boundary accounts for the children of one dag or steps node.
type boundary struct {
	// limit is the template's parallelism (0: none).
	limit   int64
	running int64
	// failFast is Template.failFast: once a child failed, start no more
	// loop items.
	failFast    bool
	childFailed bool
}

func (b *boundary) full() bool { return b != nil && b.limit > 0 && b.running >= b.limit }

// execute creates or advances the node of f. It returns nil when the node
// does not exist and could not be created now (parallelism, suspension,
// shutdown).
func (op *operation) execute(f frame) *v1alpha1.NodeStatus {
	if f.err != nil {
		if n, ok := op.node(f.id); ok {
			return &n
		}
		return op.createFinal(f.id, v1alpha1.NodeError, f.err.Error())
	}
	if f.depth > maxDepth {
		if n, ok := op.node(f.id); ok {
			return &n
		}
		n := op.newNode(v1alpha1.NodeError, v1alpha1.NodeTypeSkipped, fmt.Sprintf("maximum template depth %d exceeded (a template that calls itself needs a when that ends it)", maxDepth))
		op.setNode(f.id, n)
		return &n
	}
	switch {
	case f.tmpl.DAG != nil:
		return op.execDAG(f)
	case len(f.tmpl.Steps) > 0:
		return op.execSteps(f)
	case f.tmpl.Suspend != nil:
		return op.execSuspend(f)
	case f.tmpl.IsLeaf():
		return op.execLeaf(f)
	default:
		if n, ok := op.node(f.id); ok {
			return &n
		}
		n := op.newNode(v1alpha1.NodeError, v1alpha1.NodeTypeSkipped, fmt.Sprintf("template %q has nothing to run", f.tmpl.Name))
		op.setNode(f.id, n)
		return &n
	}
}

// stopped reports whether a shutdown forbids nodes of f from running.
func (op *operation) stopped(f frame) bool {
	return op.shutdown == v1alpha1.ShutdownTerminate || (op.shutdown == v1alpha1.ShutdownStop && !f.exit)
}

// expired reports whether the workflow deadline has passed for f.
func (op *operation) expired(f frame) bool { return op.pastDeadline && !f.exit }

// blocked reports whether no new node may ever start under f, and why.
func (op *operation) blocked(f frame) (bool, string) {
	switch {
	case op.stopped(f):
		return true, fmt.Sprintf("Stopped with strategy '%s'", op.shutdown)
	case op.expired(f):
		return true, "Step exceeded its deadline"
	}
	return false, ""
}

// canStart reports whether a new node may start under f now.
func (op *operation) canStart(f frame) bool {
	if b, _ := op.blocked(f); b {
		return false
	}
	return !op.suspended
}

// memoInputs evaluates inputs at most once.
func memoInputs(fn func() (resolvedInputs, error)) func() (resolvedInputs, error) {
	var (
		done bool
		in   resolvedInputs
		err  error
	)
	return func() (resolvedInputs, error) {
		if !done {
			in, err = fn()
			done = true
		}
		return in, err
	}
}

// openContainer returns the running node of a dag or steps template and its
// inputs, creating the node if it may start. When it returns a node in done,
// the caller returns that: nil (could not start now), a fulfilled node, or
// one that just failed on its inputs.
func (op *operation) openContainer(f frame, typ v1alpha1.NodeType) (n v1alpha1.NodeStatus, in resolvedInputs, done *v1alpha1.NodeStatus, stop bool) {
	n, exists := op.node(f.id)
	if !exists {
		if !op.canStart(f) || f.bound.full() {
			return n, in, nil, true
		}
		if _, err := f.inputs(); err != nil {
			return n, in, op.createFinal(f.id, v1alpha1.NodeError, err.Error()), true
		}
		n = op.newNode(v1alpha1.NodeRunning, typ, "")
		op.setNode(f.id, n)
		if f.bound != nil {
			f.bound.running++
		}
	}
	if n.Phase.Fulfilled() {
		return n, in, &n, true
	}
	in, err := f.inputs()
	if err != nil {
		n = op.fulfil(f.id, n, v1alpha1.NodeError, err.Error())
		return n, in, &n, true
	}
	return n, in, nil, false
}

// inputsFrom resolves a call's arguments in sc and binds them to tmpl's
// inputs, once, when first needed.
func (op *operation) inputsFrom(tmpl *v1alpha1.Template, args v1alpha1.Arguments, sc *scope) func() (resolvedInputs, error) {
	return memoInputs(func() (resolvedInputs, error) {
		a, err := op.substituteArguments(args, sc)
		if err != nil {
			return resolvedInputs{}, err
		}
		return op.bindInputs(tmpl, a)
	})
}

// callFrame is the frame of a node that calls a template by name or
// templateRef with arguments resolved in sc: a task, a step or a hook.
func (op *operation) callFrame(parent frame, id, template string, ref *v1alpha1.TemplateRef, args v1alpha1.Arguments, sc *scope, bound *boundary, exit bool) frame {
	f := frame{id: id, bound: bound, exit: parent.exit || exit, depth: parent.depth + 1, ref: parent.ref}
	tmpl, tref, err := op.resolveRef(parent.ref, template, ref)
	if err != nil {
		f.tmpl, f.err = &v1alpha1.Template{Name: template}, err
		return f
	}
	f.tmpl, f.ref = tmpl, tref
	f.inputs = op.inputsFrom(tmpl, args, sc)
	return f
}
