// store keeps a batch's enriched records and summary in the artifact store
// (a directory in zeroflow dev; $ZEROFLOW_ARTIFACTS).
package main

import "github.com/zeroflow-dev/zeroflow/functions/sdk"

func main() { sdk.Main(sdk.Step(Handle)) }
