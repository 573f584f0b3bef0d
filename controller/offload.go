package controller

import (
	"context"
	"fmt"
	"sort"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// checkValueRef says why ref cannot be namespace's offloaded value ("" when
// it can): sdk.CheckValueRef, as a message.
func checkValueRef(namespace string, ref v1alpha1.ValueRef) string {
	if err := sdk.CheckValueRef(namespace, ref); err != nil {
		return err.Error()
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
	for _, p := range wf.Spec.Arguments.Parameters {
		if p.ValueRef != nil {
			if why := checkValueRef(wf.Namespace, *p.ValueRef); why != "" {
				return &errPermanent{reason: fmt.Sprintf("spec.arguments.parameters[%s].valueRef: %s", p.Name, why)}
			}
		}
	}
	if c.cfg.Artifacts == nil {
		return nil
	}
	return sdk.OffloadParameters(ctx, c.cfg.Artifacts, wf.Namespace, c.threshold, wf.Spec.Arguments.Parameters)
}
