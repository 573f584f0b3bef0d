// Package cli is the zeroflow command line, in Argo's shape.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"

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
	addLogLevelFlag(root)
	root.AddCommand(newLintCommand(), newDevCommand(), newRenderCommand(), newBrokerCommand(), newFunctionCommand(), newVersionCommand())
	root.AddCommand(workflowCommands()...)
	root.AddCommand(newTemplateCommand(), newCronCommand())
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
			if errors.Is(err, syscall.ECONNREFUSED) {
				// A bare "connection refused" does not say which API or why.
				fmt.Fprintln(stderr, "Hint: nothing answers at that address. Is `zeroflow dev` running? "+
					"The CLI uses --kubeconfig, else $KUBECONFIG, else .zeroflow/kubeconfig, else ~/.kube/config.")
			}
		}
		return 1
	}
	return 0
}
