// Package cli is the zeroflow command line, in Argo's shape.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// NewRoot returns the zeroflow command.
func NewRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "zeroflow",
		Short: "Event-driven workflows as scale-to-zero Knative functions",
		Long: `zeroflow runs Argo-shaped EventSources, Sensors and Workflows as
scale-to-zero Knative functions that talk CloudEvents through a Knative Broker.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newLintCommand(), newDevCommand(), newRenderCommand(), newBrokerCommand(), newFunctionCommand(), newVersionCommand())
	root.AddCommand(workflowCommands()...)
	root.AddCommand(newControllerCommand())
	return root
}

// Execute runs the command line and returns the process exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := NewRoot(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errLint) {
			fmt.Fprintf(stderr, "Error: %v\n", err)
		}
		return 1
	}
	return 0
}
