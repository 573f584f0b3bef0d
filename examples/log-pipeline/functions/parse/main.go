// parse is Workflow-A's first step: it turns the webhook's body (one
// execution record, or {"records": [...]}) into a list of records.
package main

import "github.com/zeroflow-dev/zeroflow/functions/sdk"

func main() { sdk.Main(sdk.Step(Handle)) }
