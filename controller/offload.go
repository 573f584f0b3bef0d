package controller

import (
	"context"
	"fmt"
	"regexp"
	"sort"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// digestPattern is a ValueRef's digest, as the CRD's schema has it.
var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// checkValueRef says why ref cannot be namespace's offloaded value ("" when
// it can): its key must be that namespace's content key for its digest, so
// that a reference names nothing but a value of its own namespace.
func checkValueRef(namespace string, ref v1alpha1.ValueRef) string {
	switch {
	case !digestPattern.MatchString(ref.Digest):
		return fmt.Sprintf("digest %q is not sha256:<64 hex digits>", ref.Digest)
	case ref.Key != sdk.OffloadKey(namespace, ref.Digest):
		return fmt.Sprintf("key %q is not %s", ref.Key, sdk.OffloadKey(namespace, ref.Digest))
	case ref.Size < 0:
		return fmt.Sprintf("size %d is negative", ref.Size)
	}
	return ""
}

// checkResultRefs says why a result's offloaded outputs cannot be taken
// ("" when they can), naming the first bad one.
func checkResultRefs(namespace string, out *v1alpha1.NodeOutputs) string {
	if out == nil {
		return ""
	}
	if out.ResultRef != nil {
		if why := checkValueRef(namespace, *out.ResultRef); why != "" {
			return "outputs.resultRef: " + why
		}
	}
	names := make([]string, 0, len(out.ParameterRefs))
	for n := range out.ParameterRefs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if why := checkValueRef(namespace, out.ParameterRefs[n]); why != "" {
			return fmt.Sprintf("outputs.parameterRefs.%s: %s", n, why)
		}
	}
	return ""
}

// offloadArguments moves each argument of wf above the offload threshold to
// the artifact store, leaving its reference (DESIGN §11), before wf is
// created: the Workflow object carries references, not payloads. A
// reference the sender set must be one of wf's namespace (a permanent
// error otherwise). Without a store, values stay inline, and the size
// check decides.
func (c *Controller) offloadArguments(ctx context.Context, wf *v1alpha1.Workflow) error {
	for i := range wf.Spec.Arguments.Parameters {
		p := &wf.Spec.Arguments.Parameters[i]
		if p.ValueRef != nil {
			if why := checkValueRef(wf.Namespace, *p.ValueRef); why != "" {
				return &errPermanent{reason: fmt.Sprintf("spec.arguments.parameters[%s].valueRef: %s", p.Name, why)}
			}
			continue
		}
		if p.Value == nil || int64(len(*p.Value)) <= c.threshold || c.cfg.Artifacts == nil {
			continue
		}
		ref, err := sdk.PutValue(ctx, c.cfg.Artifacts, wf.Namespace, []byte(*p.Value))
		if err != nil {
			return fmt.Errorf("argument %s: %w", p.Name, err)
		}
		p.ValueRef, p.Value = &ref, nil
	}
	return nil
}
