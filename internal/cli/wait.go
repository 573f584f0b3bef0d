package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller"
)

// waitPoll is how often wait looks at a workflow.
const waitPoll = 250 * time.Millisecond

func newWaitCommand() *cobra.Command {
	var c conn
	var ignoreNotFound bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait NAME...",
		Short: "Wait for workflows to complete; exit 1 unless every one Succeeded",
		Long: `Wait for workflows to complete, as argo wait: each prints
"NAME PHASE at TIME" when it ends, and the exit status is 1 unless every one
Succeeded. @latest is the newest workflow.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			return waitWorkflows(ctx, cmd.OutOrStdout(), cl, c.namespace, args, ignoreNotFound)
		},
	}
	c.addFlags(cmd, false)
	cmd.Flags().BoolVar(&ignoreNotFound, "ignore-not-found", false, "a workflow that does not exist counts as done")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long (default: wait until they end or Ctrl-C)")
	return cmd
}

// waitWorkflows waits for each named workflow to complete, side by side.
func waitWorkflows(ctx context.Context, w io.Writer, cl *controller.Client, ns string, names []string, ignoreNotFound bool) error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failed []string
	var errs []error
	for _, name := range names {
		wg.Go(func() {
			wf, err := waitOne(ctx, cl, ns, name)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case apierrors.IsNotFound(err) && ignoreNotFound:
				fmt.Fprintf(w, "%s not found, ignored\n", name)
			case apierrors.IsNotFound(err):
				errs = append(errs, fmt.Errorf("workflow %s/%s not found", ns, name))
			case err != nil:
				errs = append(errs, fmt.Errorf("wait for %s: %w", name, err))
			default:
				fmt.Fprintf(w, "%s %s at %s\n", wf.Name, wf.Status.Phase, wf.Status.FinishedAt.Format(time.RFC3339))
				if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
					failed = append(failed, wf.Name+" "+string(wf.Status.Phase))
				}
			}
		})
	}
	wg.Wait()
	if len(failed) > 0 {
		errs = append(errs, fmt.Errorf("%w: %s", errNotSucceeded, strings.Join(failed, ", ")))
	}
	return errors.Join(errs...)
}

// waitOne polls a workflow until it has completed.
func waitOne(ctx context.Context, cl *controller.Client, ns, name string) (*v1alpha1.Workflow, error) {
	name, err := resolveName(ctx, cl, ns, name)
	if err != nil {
		return nil, err
	}
	for {
		wf, err := cl.GetWorkflow(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		if wf.Status.Phase.Completed() && wf.Status.FinishedAt != nil {
			return wf, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("still %s: %w", phase(wf), ctx.Err())
		case <-time.After(waitPoll):
		}
	}
}
