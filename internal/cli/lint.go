package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/zeroflow-dev/zeroflow/internal/devstack"
)

// errLint is returned when lint found problems; they are already printed.
var errLint = errors.New("lint found problems")

func newLintCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "lint PATH...",
		Short: "Validate zeroflow manifests (files or directories)",
		Long: `lint checks Workflows, WorkflowTemplates, EventSources and Sensors as the
API server, the controller and the sensor would: the schema, plus what it
cannot express (dependency cycles, unknown templates and tasks, bad
expressions and tags, sensor conditions, filters and trigger parameters).
Every error names its file, line and field path. The exit status is 1 when
anything is wrong.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			objs, skipped, err := devstack.Load(args...)
			out := cmd.OutOrStdout()
			for _, s := range skipped {
				hint := ""
				if strings.Contains(s, "argoproj.io") {
					hint = " (to port it, set apiVersion: zeroflow.dev/v1alpha1)"
				}
				fmt.Fprintf(out, "skipped: %s%s\n", s, hint)
			}
			for _, o := range objs {
				fmt.Fprintf(out, "ok: %s: %s\n", o.Document.Source(), o.Document.Ref())
			}
			if err != nil {
				var joined interface{ Unwrap() []error }
				problems := []error{err}
				if errors.As(err, &joined) {
					problems = joined.Unwrap()
				}
				for _, p := range problems {
					fmt.Fprintf(out, "error: %v\n", p)
				}
				fmt.Fprintf(out, "%d problem(s)\n", len(problems))
				return errLint
			}
			return nil
		},
	}
}
