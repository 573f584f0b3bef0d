// Command zeroflow is the zeroflow CLI: dev, lint and the workflow commands.
package main

import (
	"context"
	"os"

	"github.com/zeroflow-dev/zeroflow/internal/cli"
)

func main() {
	os.Exit(cli.Execute(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
