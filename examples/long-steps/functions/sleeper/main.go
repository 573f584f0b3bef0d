// sleeper is a step that takes as long as it is told: it shows that a step
// of any length runs once, heartbeating, however long it outlives the
// request that started it (docs/workflows.md, "Long steps").
package main

import "github.com/zeroflow-dev/zeroflow/functions/sdk"

func main() { sdk.Main(sdk.Step(Handle)) }
