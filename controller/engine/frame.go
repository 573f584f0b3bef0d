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
	params    map[string]string
	artifacts map[string]string
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
