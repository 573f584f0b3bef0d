package sdk_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// A workflow step is about ten lines: typed inputs in, outputs out, and
// what it logs comes back with the result. In a program, pass it to
// sdk.Main; here it is called directly.
func ExampleStep() {
	count := sdk.Step(func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		records := strings.Split(in.Param("records"), ",")
		sdk.Logger(ctx).Info("counted", "records", len(records))
		return sdk.StepOutput{Parameters: map[string]string{"count": fmt.Sprint(len(records))}}, nil
	})
	// func main() { sdk.Main(count) }
	fmt.Println(count != nil)
	// Output: true
}
