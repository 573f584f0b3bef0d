package cli

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"

	"github.com/zeroflow-dev/zeroflow/broker"
	"github.com/zeroflow-dev/zeroflow/internal/httpbound"
)

func newBrokerCommand() *cobra.Command {
	var (
		opts        broker.Options
		configPaths []string
		brokers     []string
		metricsAddr string
	)
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run the embedded Knative-compatible broker on its own",
		Long: `broker serves the Knative Broker data plane: POST CloudEvents to
http://ADDR/<namespace>/<broker>. Events are stored in an embedded NATS
JetStream under --data-dir before they are acknowledged (202), and delivered
to the subscribers of the Knative Triggers in --config at least once.

Brokers are the Broker objects in --config plus each --broker ns/name.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tuneGC()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logger := newLogger(cmd, false)
			cfg, err := broker.LoadConfig(configPaths...)
			if len(configPaths) == 0 {
				cfg, err = broker.Config{}, nil
			}
			if err != nil {
				return fmt.Errorf("read broker config: %w", err)
			}
			for _, b := range brokers {
				ns, name, ok := strings.Cut(b, "/")
				if !ok || ns == "" || name == "" {
					return fmt.Errorf("--broker %q: want namespace/name", b)
				}
				cfg.Brokers = append(cfg.Brokers, eventingv1.Broker{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			opts.Logger, opts.Registerer = logger, reg
			b, err := broker.Start(ctx, opts)
			if err != nil {
				return err
			}
			defer b.Close()
			if err := b.Apply(ctx, cfg); err != nil {
				return err
			}
			if metricsAddr != "" {
				l, err := net.Listen("tcp", metricsAddr)
				if err != nil {
					return fmt.Errorf("metrics listener: %w", err)
				}
				mux := http.NewServeMux()
				mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
				// 503 with the reason while the event store does not work.
				mux.Handle("/healthz", b.HealthHandler())
				mux.Handle("/readyz", b.HealthHandler())
				lim := httpbound.Metrics(logger)
				srv := httpbound.NewServer(mux, lim)
				go func() {
					if err := srv.Serve(httpbound.Listener(l, lim)); err != nil && !errors.Is(err, http.ErrServerClosed) {
						logger.Error("metrics server", "error", err)
					}
				}()
				defer srv.Close()
				fmt.Fprintf(cmd.OutOrStdout(), "metrics at http://%s/metrics\n", l.Addr())
			}
			for _, br := range cfg.Brokers {
				fmt.Fprintf(cmd.OutOrStdout(), "broker %s/%s ready at %s\n", br.Namespace, br.Name, b.Address(br.Namespace, br.Name))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d trigger(s); ingress listening on %s\n", len(cfg.Triggers), b.URL())
			<-ctx.Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.DataDir, "data-dir", ".zeroflow/broker", "where events are stored")
	f.StringVar(&opts.Addr, "addr", "127.0.0.1:8080", "ingress listen address")
	f.StringSliceVar(&configPaths, "config", nil, "files or directories of Knative Broker and Trigger YAML")
	f.StringArrayVar(&brokers, "broker", nil, "a broker to serve, as namespace/name (repeatable)")
	f.StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus /metrics, /healthz and /readyz here (the ingress serves /healthz and /readyz too)")
	f.Int64Var(&opts.MaxEventBytes, "max-event-bytes", 1<<20, "largest event body accepted (413 above)")
	f.IntVar(&opts.Concurrency, "concurrency", 100, "deliveries in flight per trigger")
	f.IntVar(&opts.MaxRetrying, "max-retrying", 10_000, "events per trigger that may wait for a scheduled retry beside those in flight")
	f.DurationVar(&opts.AttemptTimeout, "attempt-timeout", 60*time.Second, "timeout of one delivery attempt when a trigger sets none")
	f.BoolVar(&opts.SyncAlways, "sync-always", false, "fsync every event (survives power loss; slower)")
	return cmd
}
