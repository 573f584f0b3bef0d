package cli

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/zeroflow-dev/zeroflow/internal/devstack"
)

func newDevCommand() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "dev [DIR]",
		Short: "Run zeroflow locally, without a cluster, on a directory of manifests",
		Long: `dev starts a real Kubernetes API in-process (with an embedded etcd) and
loads the manifests of DIR (default: the current directory) into it. It
writes a kubeconfig so that kubectl works against it, and runs until
interrupted. State is kept in --data-dir between runs.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			kubeconfig := filepath.Join(dataDir, "kubeconfig")
			stack, err := devstack.Start(ctx, devstack.Options{
				Paths:          []string{dir},
				DataDir:        filepath.Join(dataDir, "api"),
				KubeconfigPath: kubeconfig,
				Logger:         logger,
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "\nzeroflow dev is running on %s\n\n", dir)
			for _, a := range stack.Applied {
				fmt.Fprintf(out, "  loaded   %s\n", a)
			}
			for _, s := range stack.Skipped {
				fmt.Fprintf(out, "  not run  %s\n", s)
			}
			abs, _ := filepath.Abs(kubeconfig)
			fmt.Fprintf(out, "\nLook at it with kubectl:\n  export KUBECONFIG=%s\n  kubectl get workflowtemplates,workflows\n\nPress Ctrl-C to stop.\n", abs)
			<-ctx.Done()
			fmt.Fprintln(out, "stopping")
			return stack.Stop()
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", ".zeroflow", "where the dev stack keeps its state and kubeconfig")
	return cmd
}
