// Command zeroflow is the zeroflow CLI: dev, lint and the workflow commands.
package main

import (
	"context"
	"os"
	// Time filters and conditionsReset name IANA time zones; a minimal
	// image has no zoneinfo, so the binary carries its own.
	_ "time/tzdata"

	"github.com/zeroflow-dev/zeroflow/internal/cli"
)

func main() {
	os.Exit(cli.Execute(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
