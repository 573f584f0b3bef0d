// Package sdktest helps test step functions: it builds the input a step
// receives, so that a Handle can be called directly.
package sdktest

import (
	"sort"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// Input is a step input with the given parameters.
func Input(params map[string]string) sdk.StepInput {
	names := make([]string, 0, len(params))
	for n := range params {
		names = append(names, n)
	}
	sort.Strings(names)
	run := events.StepRun{Workflow: "test", Namespace: "default", NodeID: "main", Template: v1alpha1.Template{Name: "test"}}
	for _, n := range names {
		v := v1alpha1.AnyString(params[n])
		run.Template.Inputs.Parameters = append(run.Template.Inputs.Parameters, v1alpha1.Parameter{Name: n, Value: &v})
	}
	return sdk.NewStepInput(run)
}
