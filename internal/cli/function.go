package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/archive"
	"github.com/zeroflow-dev/zeroflow/functions/deadletter"
	"github.com/zeroflow-dev/zeroflow/functions/exec"
	"github.com/zeroflow-dev/zeroflow/functions/filter"
	zfhttp "github.com/zeroflow-dev/zeroflow/functions/http"
	"github.com/zeroflow-dev/zeroflow/functions/resource"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/functions/sensor"
	"github.com/zeroflow-dev/zeroflow/functions/webhook"
	"github.com/zeroflow-dev/zeroflow/internal/manifestfile"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

// functionFlags are the settings every built-in function takes; the
// defaults follow Knative's container contract ($PORT, $K_SINK).
type functionFlags struct {
	spec       string
	addr       string
	sink       string
	kubeconfig string
	secretsDir string
	// allowNamespaces is --allow-namespaces as given, for the functions
	// that act on Kubernetes objects (see registerAllowNamespaces).
	allowNamespaces string
}

func (f *functionFlags) register(cmd *cobra.Command, specFlag, specHelp string) {
	cmd.Flags().StringVar(&f.spec, specFlag, os.Getenv("ZEROFLOW_SPEC_FILE"), specHelp+" (default $ZEROFLOW_SPEC_FILE)")
	f.registerServing(cmd)
}

// registerServing adds the flags of every function: where it listens, where
// it sends, and where its secrets are.
func (f *functionFlags) registerServing(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.addr, "addr", "", "listen address (default :$PORT, or :8080)")
	cmd.Flags().StringVar(&f.sink, "sink", "", "broker address events are sent to (default $K_SINK)")
	cmd.Flags().StringVar(&f.secretsDir, "secrets-dir", os.Getenv("ZEROFLOW_SECRETS_DIR"), "directory of secret files <name>/<key> (also read: $ZEROFLOW_SECRET_<NAME>_<KEY>)")
}

// envAllowNamespaces is --allow-namespaces' default: a Deployment or
// Knative Service sets it in its pod spec, where a cluster admin, not a
// workflow's or sensor's author, decides it.
const envAllowNamespaces = "ZEROFLOW_ALLOW_NAMESPACES"

// registerAllowNamespaces adds --allow-namespaces to a function that acts on
// Kubernetes objects on behalf of objects of many namespaces (resource
// steps, sensor triggers). Its RBAC would let every workflow or sensor act
// wherever the function may, so the function itself keeps each to its own
// namespace, and this flag is the one way to widen that.
func (f *functionFlags) registerAllowNamespaces(cmd *cobra.Command, whose string) {
	cmd.Flags().StringVar(&f.allowNamespaces, "allow-namespaces", os.Getenv(envAllowNamespaces),
		"a cluster-admin choice: namespaces (comma-separated) where "+whose+" may act besides its own; * allows any namespace and cluster-scoped objects (default $"+envAllowNamespaces+"; by default only its own namespace)")
}

// parseAllowNamespaces splits a comma list of namespaces, each a namespace
// name or "*". A wrong entry stops the start, rather than being dropped: an
// admin who widened the boundary should not find it silently narrower.
func parseAllowNamespaces(list string) ([]string, error) {
	var out []string
	for _, ns := range strings.Split(list, ",") {
		ns = strings.TrimSpace(ns)
		if ns == "" {
			continue
		}
		if ns != "*" {
			if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
				return nil, fmt.Errorf("--allow-namespaces: %q is neither * nor a namespace name: %s", ns, strings.Join(errs, "; "))
			}
		}
		if !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	return out, nil
}

func newFunctionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "function",
		Short: "Run a built-in function (what a Knative Service of zeroflow runs)",
		Long: `function runs one of zeroflow's built-in functions from the spec of its
object, as the container of its Knative Service does: it serves on $PORT,
sends to $K_SINK, answers /health/readiness and /health/liveness, and drains
on SIGTERM.`,
	}
	cmd.AddCommand(newWebhookFunctionCommand(), newFilterFunctionCommand(), newSensorFunctionCommand())
	cmd.AddCommand(newStepFunctionCommands()...)
	cmd.AddCommand(newExecJobFunctionCommand())
	return cmd
}

// stepEnv is what a step function is made of; each takes the parts it
// uses.
type stepEnv struct {
	store   sdk.ArtifactStore
	dyn     dynamic.Interface
	mapper  meta.RESTMapper
	secrets secrets.Resolver
	// allowNamespaces is the parsed --allow-namespaces (resource only).
	allowNamespaces []string
	// impersonate acts as a step's ServiceAccount (resource only).
	impersonate func(namespace, serviceAccount string) (dynamic.Interface, error)
}

// newStepFunctionCommands are the built-in step functions and the archive:
// they take step.run (or workflow.finished) events on $PORT, keep logs and
// records in the store $ZEROFLOW_ARTIFACTS names, and reply with the result.
func newStepFunctionCommands() []*cobra.Command {
	type builtin struct {
		name, short string
		// api: the function acts on Kubernetes objects, so it takes
		// --kubeconfig and --allow-namespaces.
		api  bool
		make func(e stepEnv) sdk.Handler
	}
	var out []*cobra.Command
	for _, b := range []builtin{
		{name: "exec", short: "Run container and script steps as local processes", make: func(e stepEnv) sdk.Handler {
			return exec.New(exec.Options{Artifacts: e.store})
		}},
		{name: "http", short: "Run http steps (Argo's http template)", make: func(e stepEnv) sdk.Handler {
			return zfhttp.New(zfhttp.Options{Artifacts: e.store, Secrets: e.secrets})
		}},
		{name: "resource", short: "Run resource steps: create, apply, patch or delete objects", api: true, make: func(e stepEnv) sdk.Handler {
			return resource.New(resource.Options{Dynamic: e.dyn, Mapper: e.mapper, Artifacts: e.store, AllowNamespaces: e.allowNamespaces, Impersonate: e.impersonate})
		}},
		{name: "archive", short: "Store each finished run's record in the artifact store", make: func(e stepEnv) sdk.Handler {
			return archive.New(e.store)
		}},
		{name: "dead-letter", short: "Store every event a Broker could not deliver (its deadLetterSink)", make: func(e stepEnv) sdk.Handler {
			return deadletter.New(e.store)
		}},
	} {
		var f functionFlags
		cmd := &cobra.Command{
			Use:   b.name,
			Short: b.short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				allow, err := parseAllowNamespaces(f.allowNamespaces)
				if err != nil {
					return err
				}
				store, err := sdk.ArtifactsFromEnv()
				if err != nil {
					return err
				}
				if store == nil {
					return fmt.Errorf("no artifact store: set $%s to a directory or an s3:// URL", sdk.EnvArtifacts)
				}
				e := stepEnv{store: store, secrets: secrets.Local{Dir: f.secretsDir}, allowNamespaces: allow}
				if b.api {
					cfg, err := kubeConfig(f.kubeconfig)
					if err != nil {
						return err
					}
					if e.dyn, err = dynamic.NewForConfig(cfg); err != nil {
						return fmt.Errorf("kubernetes client: %w", err)
					}
					e.impersonate = resource.ImpersonatingClients(cfg)
					disco, err := discovery.NewDiscoveryClientForConfig(cfg)
					if err != nil {
						return fmt.Errorf("kubernetes discovery: %w", err)
					}
					e.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))
				}
				ctx, stop, logger := functionContext(cmd)
				defer stop()
				h := b.make(e)
				return sdk.Serve(ctx, h, sdk.Options{Addr: f.addr, Sink: f.sink, Logger: logger})
			},
		}
		f.registerServing(cmd)
		if b.api {
			cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the API server (default: in-cluster)")
			f.registerAllowNamespaces(cmd, "a workflow's resource step")
		}
		out = append(out, cmd)
	}
	return out
}

func newWebhookFunctionCommand() *cobra.Command {
	var f functionFlags
	cmd := &cobra.Command{
		Use:   "webhook --eventsource FILE",
		Short: "Serve the webhook events of an EventSource",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var es v1alpha1.EventSource
			if err := readObject(f.spec, "EventSource", &es); err != nil {
				return err
			}
			ctx, stop, logger := functionContext(cmd)
			defer stop()
			send := sdk.NewSender(f.sink)
			w, err := webhook.New(&es, webhook.Options{Send: send.Send, Secrets: secrets.Local{Dir: f.secretsDir}, Logger: logger})
			if err != nil {
				return err
			}
			if err := w.Check(ctx); err != nil {
				return err
			}
			return sdk.ServeHTTP(ctx, w.Handler(), sdk.Options{Addr: f.addr, Sink: f.sink, Logger: logger})
		},
	}
	f.register(cmd, "eventsource", "the EventSource YAML")
	return cmd
}

func newFilterFunctionCommand() *cobra.Command {
	var f functionFlags
	cmd := &cobra.Command{
		Use:   "filter --sensor FILE",
		Short: "Filter the events of a Sensor's dependencies",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var s v1alpha1.Sensor
			if err := readObject(f.spec, "Sensor", &s); err != nil {
				return err
			}
			ctx, stop, logger := functionContext(cmd)
			defer stop()
			fn, err := filter.NewFunction(&s, logger)
			if err != nil {
				return err
			}
			return sdk.Serve(ctx, fn, sdk.Options{Addr: f.addr, Sink: f.sink, Logger: logger})
		},
	}
	f.register(cmd, "sensor", "the Sensor YAML")
	return cmd
}

func newSensorFunctionCommand() *cobra.Command {
	var f functionFlags
	cmd := &cobra.Command{
		Use:   "sensor --sensor FILE",
		Short: "Run a Sensor's conditions and triggers",
		Long: `sensor takes the dependency events of a Sensor's filter, keeps the state
of its conditions in the Sensor's status (the Sensor must exist in the API
server), and fires its triggers.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			allow, err := parseAllowNamespaces(f.allowNamespaces)
			if err != nil {
				return err
			}
			var s v1alpha1.Sensor
			if err := readObject(f.spec, "Sensor", &s); err != nil {
				return err
			}
			ctx, stop, logger := functionContext(cmd)
			defer stop()
			cfg, err := kubeConfig(f.kubeconfig)
			if err != nil {
				return err
			}
			dyn, err := dynamic.NewForConfig(cfg)
			if err != nil {
				return fmt.Errorf("kubernetes client: %w", err)
			}
			disco, err := discovery.NewDiscoveryClientForConfig(cfg)
			if err != nil {
				return fmt.Errorf("kubernetes discovery: %w", err)
			}
			send := sdk.NewSender(f.sink)
			fn, err := sensor.New(ctx, sensor.Config{
				Sensor:  &s,
				Dynamic: dyn,
				Mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco)),
				Send:    send.Send,
				Secrets: secrets.Local{Dir: f.secretsDir},
				Logger:  logger,
				// The admin's widening, never the Sensor's: its spec
				// cannot name where its triggers may act.
				AllowNamespaces: allow,
			})
			if err != nil {
				return err
			}
			return sdk.Serve(ctx, fn, sdk.Options{Addr: f.addr, Sink: f.sink, Logger: logger})
		},
	}
	f.register(cmd, "sensor", "the Sensor YAML")
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the API server (default: in-cluster)")
	f.registerAllowNamespaces(cmd, "a sensor's k8s and workflow triggers")
	return cmd
}

func functionContext(cmd *cobra.Command) (context.Context, context.CancelFunc, *slog.Logger) {
	tuneGC()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	return ctx, stop, newLogger(cmd, true)
}

// readObject reads the one object of kind in file, strictly, and
// validates it as lint does.
func readObject(file, kind string, into any) error {
	if file == "" {
		return fmt.Errorf("name the %s file", kind)
	}
	docs, err := manifestfile.Load(file)
	if err != nil {
		return err
	}
	var found []manifestfile.Object
	for _, d := range docs {
		if d.Kind != kind {
			continue
		}
		obj, err := manifestfile.Decode(d)
		if err != nil {
			return err
		}
		if len(obj.Errors) > 0 {
			return fmt.Errorf("%s: %s is invalid: %w", d.Source(), d.Ref(), obj.Errors.ToAggregate())
		}
		found = append(found, obj)
	}
	if len(found) != 1 {
		return fmt.Errorf("%s: want exactly one %s, found %d", file, kind, len(found))
	}
	switch v := into.(type) {
	case *v1alpha1.EventSource:
		*v = *found[0].Value.(*v1alpha1.EventSource)
		if v.Namespace == "" {
			v.Namespace = ownNamespace()
		}
	case *v1alpha1.Sensor:
		*v = *found[0].Value.(*v1alpha1.Sensor)
		if v.Namespace == "" {
			v.Namespace = ownNamespace()
		}
	}
	return nil
}

// serviceAccountNamespaceFile is where Kubernetes tells a pod its namespace.
const serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// ownNamespace is the namespace a function runs in, for specs rendered
// without one (they get theirs when applied): $POD_NAMESPACE, else the
// pod's service account namespace, else "default".
func ownNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if b, err := os.ReadFile(serviceAccountNamespaceFile); err == nil {
		if ns := strings.TrimSpace(string(b)); ns != "" {
			return ns
		}
	}
	return "default"
}

// kubeConfig is the kubeconfig file's, else the in-cluster config.
func kubeConfig(path string) (*rest.Config, error) {
	if path == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("no --kubeconfig and not in a cluster: %w", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}
