package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/httpbound"
	"github.com/zeroflow-dev/zeroflow/internal/identity"
	"github.com/zeroflow-dev/zeroflow/render"
)

func newControllerCommand() *cobra.Command {
	var (
		c                                  conn
		addr, sink, metricsAddr            string
		watchNamespace                     string
		resync                             time.Duration
		heartbeat, lostAfter, startTimeout time.Duration
		tokenKeyFile                       string
		crossNamespace                     []string
		renderOpts                         render.Options
		election                           leaderFlags
	)
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the workflow controller on its own (what its Deployment runs)",
		Long: `controller serves workflow.submit, step.result and tick CloudEvents on
--addr (default :$PORT), sends step.run and workflow.finished to --sink
(default $K_SINK, the broker), and watches the Workflows of the API that
--kubeconfig names (default: $KUBECONFIG, else the zeroflow dev stack's). Where
that API serves Knative's PingSources (a cluster), it also watches
CronWorkflows and keeps their PingSources in step: created, changed and
deleted with them, owned by them. Where it serves Knative Services, it does
the same for EventSources and Sensors: the objects zeroflow render makes for
each (their Services, ConfigMaps, SinkBindings, Triggers, EventPolicies,
ServiceAccounts and sources), with --function-image as their image. It
stops on SIGTERM after draining.

Any number of replicas may run: each serves events, and with --leader-elect
(the default) they elect one leader on a coordination.k8s.io/v1 Lease
(--lease-name in --lease-namespace), which alone runs the watches, the
resync and the schedules. A leader that cannot renew the Lease within
--lease-renew-deadline stops them at once and campaigns again; a stopping
one releases it, so another takes over within --lease-retry-period.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sink == "" {
				sink = os.Getenv("K_SINK")
			}
			if sink == "" {
				return fmt.Errorf("no broker to send to: set --sink or $K_SINK")
			}
			if addr == "" {
				port := os.Getenv("PORT")
				if port == "" {
					port = "8080"
				}
				addr = ":" + port
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			tokenKey, err := controllerTokenKey(tokenKeyFile)
			if err != nil {
				return err
			}
			pairs, err := controller.ParseNamespacePairs(crossNamespace)
			if err != nil {
				return fmt.Errorf("--allow-cross-namespace: %w", err)
			}
			logger := newLogger(cmd, false)
			schedules, err := clusterSchedules(c, logger)
			if err != nil {
				return err
			}
			sources, err := clusterSources(c, cl, renderOpts, logger)
			if err != nil {
				return err
			}
			// The artifact store a submit's large arguments are offloaded to
			// ($ZEROFLOW_ARTIFACTS, the zeroflow-artifacts Secret on a
			// cluster); none: only small values can be submitted.
			store, err := sdk.OpenArtifacts(os.Getenv(sdk.EnvArtifacts))
			if err != nil {
				return fmt.Errorf("$%s: %w", sdk.EnvArtifacts, err)
			}
			leaderElection, err := election.config(c, watchNamespace)
			if err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			ctrl, err := controller.New(controller.Config{
				Metrics:           reg,
				Namespace:         watchNamespace,
				Client:            cl,
				Send:              sdk.NewSender(sink).WithToken(identity.TokenFromEnv()).Send,
				Logger:            logger,
				ResyncPeriod:      resync,
				HeartbeatInterval: heartbeat, LostAfter: lostAfter, StartTimeout: startTimeout,
				TokenKey:       tokenKey,
				CrossNamespace: pairs,
				Schedules:      schedules,
				Sources:        sources,
				Artifacts:      store,
				LeaderElection: leaderElection,
			})
			if err != nil {
				return err
			}
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "controller listening on http://%s, sending to %s\n", l.Addr(), sink)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			g, ctx := errgroup.WithContext(ctx)
			g.Go(func() error { return ctrl.Run(ctx) })
			if metricsAddr != "" {
				ml, err := net.Listen("tcp", metricsAddr)
				if err != nil {
					return fmt.Errorf("metrics: %w", err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "metrics on http://%s/metrics\n", ml.Addr())
				lim := httpbound.Metrics(logger)
				srv := httpbound.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), lim)
				g.Go(func() error {
					if err := srv.Serve(httpbound.Listener(ml, lim)); err != nil && !errors.Is(err, http.ErrServerClosed) {
						return fmt.Errorf("metrics: %w", err)
					}
					return nil
				})
				g.Go(func() error {
					<-ctx.Done()
					return srv.Close()
				})
			}
			g.Go(func() error {
				return sdk.Serve(ctx, ctrl, sdk.Options{Listener: l, Sink: sink, Logger: logger, DrainTimeout: 10 * time.Second})
			})
			return g.Wait()
		},
	}
	c.addFlags(cmd, false)
	cmd.Flags().StringVar(&addr, "addr", "", "listen address (default :$PORT)")
	cmd.Flags().StringVar(&sink, "sink", "", "the broker URL to send to (default $K_SINK)")
	cmd.Flags().StringVar(&watchNamespace, "watch-namespace", "", "watch and resync the Workflows of this namespace only (default: all namespaces)")
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus /metrics here (e.g. :9090; default: not served)")
	cmd.Flags().DurationVar(&resync, "resync", 10*time.Second, "how often to look at every unfinished workflow")
	livenessFlags(cmd, &heartbeat, &lostAfter, &startTimeout)
	cmd.Flags().StringVar(&tokenKeyFile, "token-key-file", os.Getenv(envTokenKeyFile), "the key that signs each step's token (at least 16 bytes, e.g. a mounted Secret); every replica needs the same one (default $"+envTokenKeyFile+", else the key in $"+envTokenKey+", else a random key for this process)")
	cmd.Flags().StringVar(&renderOpts.Image, "function-image", os.Getenv(envFunctionImage), "the resolved image of zeroflow's functions, which the EventSources' and Sensors' Services run (default $"+envFunctionImage+"; without one the controller does not run them)")
	cmd.Flags().StringVar(&renderOpts.Issuer, "oidc-issuer", render.DefaultIssuer, "the cluster's ServiceAccount token issuer, whose tokens the EventSources' and Sensors' functions accept")
	election.add(cmd)
	cmd.Flags().StringSliceVar(&crossNamespace, "allow-cross-namespace", nil, "a cluster-admin choice: let workflow.submit senders of namespace FROM start workflows in TO (FROM=TO, either *, or * for any); by default a sender may start workflows in its own namespace only")
	return cmd
}

// Where the controller's step-token key comes from when no flag names it.
const (
	envTokenKeyFile = "ZEROFLOW_TOKEN_KEY_FILE"
	envTokenKey     = "ZEROFLOW_TOKEN_KEY"
	// envFunctionImage is the image of zeroflow's functions the controller
	// runs EventSources and Sensors with (the Deployment can set it to a
	// ko:// reference, which ko resolves with the controller's own).
	envFunctionImage = "ZEROFLOW_FUNCTION_IMAGE"
)

// controllerTokenKey is the step-token key: from the file, else the
// environment, else nil (the controller makes a random one).
func controllerTokenKey(file string) ([]byte, error) {
	if file != "" {
		key, err := controller.ReadTokenKey(file)
		if err != nil {
			return nil, fmt.Errorf("--token-key-file: %w", err)
		}
		return key, nil
	}
	if v := strings.TrimSpace(os.Getenv(envTokenKey)); v != "" {
		if len(v) < 16 {
			return nil, fmt.Errorf("$%s: %d bytes, want at least 16", envTokenKey, len(v))
		}
		return []byte(v), nil
	}
	return nil, nil
}

// clusterSchedules is how the controller keeps CronWorkflows' schedules:
// their PingSources, where the API serves the kind; nil where it does not
// (the zeroflow dev stack, which schedules them itself).
func clusterSchedules(c conn, logger *slog.Logger) (controller.Schedules, error) {
	cfg, err := c.restConfig()
	if err != nil {
		return nil, err
	}
	ok, err := apiServes(cfg, sourcesv1.SchemeGroupVersion.String(), "pingsources")
	if err != nil || !ok {
		if err == nil {
			logger.Info("the API serves no PingSources: CronWorkflows are not scheduled by this controller (zeroflow dev schedules its own)", "groupVersion", sourcesv1.SchemeGroupVersion.String())
		}
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	return &controller.ClusterSchedules{Dynamic: dyn, Broker: "default", Logger: logger.With("component", "cron")}, nil
}

// clusterSources is how the controller keeps what runs for EventSources
// and Sensors: the objects render makes for them, where the API serves
// Knative Services (a cluster with Knative Serving); nil where it does not
// (the zeroflow dev stack runs them itself), or where no image for their
// functions is given: render's default is a ko:// reference that only ko
// resolves, and a Service with it would never start.
func clusterSources(c conn, cl *controller.Client, opts render.Options, logger *slog.Logger) (controller.Sources, error) {
	cfg, err := c.restConfig()
	if err != nil {
		return nil, err
	}
	ok, err := apiServes(cfg, servingv1.SchemeGroupVersion.String(), "services")
	if err != nil || !ok {
		if err == nil {
			logger.Info("the API serves no Knative Services: EventSources and Sensors are not run by this controller (zeroflow dev runs its own; elsewhere apply `zeroflow render`)", "groupVersion", servingv1.SchemeGroupVersion.String())
		}
		return nil, err
	}
	if opts.Image == "" || strings.HasPrefix(opts.Image, "ko://") {
		logger.Warn("no resolved image for zeroflow's functions (--function-image, $"+envFunctionImage+"): EventSources and Sensors are not run by this controller; apply `zeroflow render` instead", "image", opts.Image)
		return nil, nil
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	return &controller.ClusterSources{Dynamic: dyn, Client: cl, Options: opts, Logger: logger.With("component", "sources")}, nil
}

// apiServes reports whether the API serves resource in groupVersion.
func apiServes(cfg *rest.Config, groupVersion, resource string) (bool, error) {
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return false, fmt.Errorf("discovery client: %w", err)
	}
	resources, err := disco.ServerResourcesForGroupVersion(groupVersion)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("find %s in %s: %w", resource, groupVersion, err)
	}
	return slices.ContainsFunc(resources.APIResources, func(r metav1.APIResource) bool { return r.Name == resource }), nil
}

// restConfig is the API config client() connects with (the same loading
// rules), for the clients the controller needs beside its typed one.
func (c *conn) restConfig() (*rest.Config, error) {
	path := c.kubeconfig
	if path == "" {
		dev := filepath.Join(devDataDir, "kubeconfig")
		if _, err := os.Stat(dev); err == nil {
			path = dev
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no Kubernetes API to talk to (start one with `zeroflow dev`, or pass --kubeconfig): %w", err)
	}
	return cfg, nil
}

// leaderFlags are the controller's leader election flags.
type leaderFlags struct {
	enabled                bool
	namespace, name        string
	duration, renew, retry time.Duration
}

func (f *leaderFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.enabled, "leader-elect", true, "elect one leader among the controller's replicas on a Lease: only it runs the watches, the resync and the schedules (false: this process runs them, as the only replica)")
	cmd.Flags().StringVar(&f.namespace, "lease-namespace", "", "the namespace of the leader election Lease (default $POD_NAMESPACE, else --watch-namespace, else default)")
	cmd.Flags().StringVar(&f.name, "lease-name", controller.DefaultLeaseName, "the name of the leader election Lease")
	cmd.Flags().DurationVar(&f.duration, "lease-duration", controller.DefaultLeaseDuration, "how long the other replicas wait after the leader's last renewal before one takes over")
	cmd.Flags().DurationVar(&f.renew, "lease-renew-deadline", controller.DefaultRenewDeadline, "how long the leader tries to renew before it stops leading (less than --lease-duration)")
	cmd.Flags().DurationVar(&f.retry, "lease-retry-period", controller.DefaultRetryPeriod, "how often each replica tries to take or renew the Lease")
}

// config is the controller's LeaderElection, nil when disabled. It checks
// that the API serves Leases, so that a missing kind (or RBAC rule) is
// said at start, not in a log line every retry period.
func (f *leaderFlags) config(c conn, watchNamespace string) (*controller.LeaderElection, error) {
	if !f.enabled {
		return nil, nil
	}
	cfg, err := c.restConfig()
	if err != nil {
		return nil, err
	}
	ok, err := apiServes(cfg, coordinationv1.SchemeGroupVersion.String(), "leases")
	if err != nil {
		return nil, fmt.Errorf("--leader-elect: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("--leader-elect: the API at %s serves no %s Leases; run one replica with --leader-elect=false", cfg.Host, coordinationv1.SchemeGroupVersion)
	}
	leases, err := controller.NewLeases(cfg)
	if err != nil {
		return nil, err
	}
	ns := f.namespace
	for _, v := range []string{os.Getenv("POD_NAMESPACE"), watchNamespace, "default"} {
		if ns == "" {
			ns = v
		}
	}
	return &controller.LeaderElection{
		// The identity is the controller's default: the host name (a
		// pod's name) and a random suffix, a new candidate per process.
		Leases: leases, Namespace: ns, Name: f.name,
		LeaseDuration: f.duration, RenewDeadline: f.renew, RetryPeriod: f.retry,
	}, nil
}
