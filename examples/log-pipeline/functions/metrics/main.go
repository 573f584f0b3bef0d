// metrics summarises a batch of execution records: how many, and how many
// at each level.
package main

import "github.com/zeroflow-dev/zeroflow/functions/sdk"

func main() { sdk.Main(sdk.Step(Handle)) }
