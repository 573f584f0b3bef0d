// enrich adds to each execution record what the later steps group by: its
// level (default "info") and the size of its message.
package main

import "github.com/zeroflow-dev/zeroflow/functions/sdk"

func main() { sdk.Main(sdk.Step(Handle)) }
