package cli

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/zeroflow-dev/zeroflow/internal/devstack"
)

func newDevCommand() *cobra.Command {
	var dataDir, brokerAddr string
	cmd := &cobra.Command{
		Use:   "dev [DIR]",
		Short: "Run zeroflow locally, without a cluster, on a directory of manifests",
		Long: `dev starts a real Kubernetes API in-process (with an embedded etcd) and
loads the manifests of DIR (default: the current directory) into it, and runs
the embedded broker (the Knative Broker data plane) with the Brokers and
Triggers of DIR plus the broker default/default. Each EventSource's webhooks
listen on their own ports, and each Sensor's filter and sensor functions run
behind the broker, routed by the Triggers zeroflow render would make. It
writes a kubeconfig so that kubectl works against the API, and runs until
interrupted. State, including what sensors wait for, is kept in --data-dir
between runs.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			tuneGC()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			kubeconfig := filepath.Join(dataDir, "kubeconfig")
			stack, err := devstack.Start(ctx, devstack.Options{
				Paths:          []string{dir},
				DataDir:        dataDir,
				BrokerAddr:     brokerAddr,
				KubeconfigPath: kubeconfig,
				Logger:         logger,
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "\nzeroflow dev is running on %s\n\n", dir)
			for _, b := range stack.Brokers {
				ns, name, _ := strings.Cut(b, "/")
				fmt.Fprintf(out, "  broker   %s at %s\n", b, stack.Broker.Address(ns, name))
			}
			for _, a := range stack.Applied {
				fmt.Fprintf(out, "  loaded   %s\n", a)
			}
			for _, e := range stack.Endpoints {
				fmt.Fprintf(out, "  %s\n", e)
			}
			for _, s := range stack.Skipped {
				fmt.Fprintf(out, "  not run  %s\n", s)
			}
			abs, _ := filepath.Abs(kubeconfig)
			fmt.Fprintf(out, "\nLook at it with kubectl:\n  export KUBECONFIG=%s\n  kubectl get workflowtemplates,workflows,eventsources,sensors\n  kubectl get sensor NAME -o yaml   # status: what each trigger waits for\n\nPress Ctrl-C to stop.\n", abs)
			<-ctx.Done()
			fmt.Fprintln(out, "stopping")
			return stack.Stop()
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", ".zeroflow", "where the dev stack keeps its state and kubeconfig")
	cmd.Flags().StringVar(&brokerAddr, "broker-addr", "127.0.0.1:8080", "the broker's ingress address")
	return cmd
}
