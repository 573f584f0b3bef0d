package cli

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/internal/devstack"
)

func newDevCommand() *cobra.Command {
	var (
		dataDir, brokerAddr, metricsAddr, apiAddr string
		artifacts                                 string
		controllerURL                             string
		scaling                                   devstack.Scaling
		liveness                                  devstack.Liveness
	)
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
			logger := newLogger(cmd, false)
			kubeconfig := filepath.Join(dataDir, "kubeconfig")
			if err := checkAddrsFree([][2]string{{"broker-addr", brokerAddr}, {"metrics-addr", metricsAddr}, {"api-addr", apiAddr}}); err != nil {
				return err
			}
			stack, err := devstack.Start(ctx, devstack.Options{
				Paths:          []string{dir},
				DataDir:        dataDir,
				BrokerAddr:     brokerAddr,
				APIAddr:        apiAddr,
				KubeconfigPath: kubeconfig,
				Scaling:        scaling,
				Liveness:       liveness,
				MetricsAddr:    metricsAddr,
				ControllerURL:  controllerURL,
				Artifacts:      artifacts,
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
			fmt.Fprintf(out, "\n  artifacts %s (run records in runs/, step logs in logs/)\n", stack.Artifacts)
			if stack.MetricsURL != "" {
				fmt.Fprintf(out, "  metrics   %s\n", stack.MetricsURL)
			}
			fmt.Fprintf(out, "\nFunctions start on their first request and stop after %s idle.\n", orDefault(scaling.IdleWindow))
			fmt.Fprintf(out, "\nLook at it:\n  export KUBECONFIG=%s\n  zeroflow list                      # workflows, their phase and progress\n  zeroflow get NAME                  # one workflow's node tree\n  zeroflow logs NAME                 # its steps' captured logs\n  kubectl get workflowtemplates,workflows,eventsources,sensors\n\nPress Ctrl-C to stop.\n", abs)
			<-ctx.Done()
			fmt.Fprintln(out, "stopping")
			return stack.Stop()
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", ".zeroflow", "where the dev stack keeps its state and kubeconfig")
	cmd.Flags().StringVar(&brokerAddr, "broker-addr", "127.0.0.1:8080", "the broker's ingress address")
	cmd.Flags().StringVar(&artifacts, "artifacts", os.Getenv("ZEROFLOW_ARTIFACTS"), "where run records and step logs go: a directory, or s3://BUCKET[/PREFIX]?endpoint=HOST:PORT[&insecure=true] with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set (default $ZEROFLOW_ARTIFACTS, else DATA-DIR/artifacts)")
	cmd.Flags().StringVar(&apiAddr, "api-addr", os.Getenv("ZEROFLOW_API_ADDR"), "the Kubernetes API server's address (default $ZEROFLOW_API_ADDR, else where the last start with this --data-dir listened, so a copied kubeconfig keeps working, else a free port)")
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", "127.0.0.1:9090", "serve Prometheus /metrics here (empty: do not)")
	cmd.Flags().DurationVar(&scaling.IdleWindow, "idle", 60*time.Second, "stop a function instance after this long without requests (Knative's scale to zero)")
	cmd.Flags().IntVar(&scaling.Target, "target", 100, "requests one function instance takes at once before another starts, unless its Service sets autoscaling.knative.dev/target")
	cmd.Flags().StringVar(&controllerURL, "controller", "", "route to a controller running as its own process (zeroflow controller) at this URL instead of running one")
	cmd.Flags().Float64Var(&scaling.StepFailureRate, "inject-failures", 0, "chaos testing: answer this fraction (0..1) of step.run deliveries with 500 before they reach a step function")
	livenessFlags(cmd, &liveness.HeartbeatInterval, &liveness.LostAfter, &liveness.StartTimeout)
	cmd.Flags().IntVar(&scaling.MaxScale, "max-scale", 10, "most instances of one function, unless its Service sets autoscaling.knative.dev/max-scale")
	return cmd
}

// livenessFlags are the controller's heartbeat and loss times, shared by
// `zeroflow dev` and `zeroflow controller`.
func livenessFlags(cmd *cobra.Command, interval, lostAfter, startTimeout *time.Duration) {
	cmd.Flags().DurationVar(interval, "heartbeat-interval", controller.DefaultHeartbeatInterval, "how often a running step sends a heartbeat")
	cmd.Flags().DurationVar(lostAfter, "lost-after", controller.DefaultLostAfter, "fail a step attempt as lost (Error, retried under its retryStrategy) after this long without a heartbeat; at least twice --heartbeat-interval")
	cmd.Flags().DurationVar(startTimeout, "start-timeout", controller.DefaultStartTimeout, "fail a step attempt as lost when it sent neither a heartbeat nor a result this long after its dispatch (covers queueing and cold starts)")
}

func orDefault(d time.Duration) time.Duration {
	if d <= 0 {
		return 60 * time.Second
	}
	return d
}
