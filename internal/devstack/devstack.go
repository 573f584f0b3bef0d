// Package devstack runs zeroflow without a cluster: the in-process
// Kubernetes API with zeroflow's CRDs and the embedded broker, loaded with a
// directory of manifests. `zeroflow dev` and the end-to-end tests use it.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/broker"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/kubeapi"
	"github.com/zeroflow-dev/zeroflow/internal/manifestfile"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
	"github.com/zeroflow-dev/zeroflow/manifests"
	"github.com/zeroflow-dev/zeroflow/render"
)

// Options configures Start.
type Options struct {
	// Paths are manifest files or directories to load.
	Paths []string
	// DataDir keeps the state between runs: the API in DataDir/api, the
	// broker's events in DataDir/broker.
	DataDir string
	// BrokerAddr is the broker's ingress address (default 127.0.0.1:8080).
	BrokerAddr string
	// APIAddr is the API server's address (default: where this data
	// dir's last start listened, else a free loopback port).
	APIAddr string
	// KubeconfigPath receives a kubeconfig for kubectl.
	KubeconfigPath string
	// FunctionsHost is the address EventSources and functions listen on;
	// default 127.0.0.1. A webhook listens on its own port there.
	FunctionsHost string
	// Secrets resolves the secrets EventSources and Sensors name; default
	// the environment (ZEROFLOW_SECRET_<NAME>_<KEY>).
	Secrets secrets.Resolver
	// Scaling is how functions scale (Knative's contract); zero values
	// take Knative's defaults.
	Scaling Scaling
	// Liveness sets the controller's heartbeat and loss times.
	Liveness Liveness
	// ControllerURL, when set, is a controller running elsewhere (its own
	// process, `zeroflow controller`); the stack routes to it and runs
	// none of its own.
	ControllerURL string
	// Artifacts is where run records, step logs and what steps store go:
	// a directory or s3://BUCKET[/PREFIX]?endpoint=HOST:PORT (credentials
	// from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY). Default
	// DataDir/artifacts.
	Artifacts string
	// MetricsAddr, when set, serves Prometheus /metrics there: the
	// broker's, the functions' starts and instances, the controller's.
	MetricsAddr string
	Logger      *slog.Logger
}

// Stack is a running dev stack.
type Stack struct {
	API    *kubeapi.Server
	Broker *broker.Broker
	// Brokers lists the brokers served, as namespace/name.
	Brokers []string
	// Applied lists the objects loaded, as "Kind namespace/name".
	Applied []string
	// Skipped lists documents of kinds this version does not serve, with why.
	Skipped []string
	// Endpoints lists where the functions listen, for people.
	Endpoints []string
	// Controller runs the workflows.
	Controller *controller.Controller
	// Artifacts is the location of the artifact store (a directory or an
	// s3:// URL): run records, step logs and what steps store. It is also
	// written to DataDir/ArtifactsLocationFile, for the CLI.
	Artifacts string
	// MetricsURL is where /metrics is served ("" when it is not).
	MetricsURL string

	functions     *functions
	stopFunctions context.CancelFunc
}

// ArtifactsLocationFile, in the data dir, holds the running stack's
// artifact store location, so that `zeroflow logs` finds it by itself.
const ArtifactsLocationFile = "artifacts-location"

// DefaultNamespace is where objects without a namespace go.
const DefaultNamespace = "default"

// Load reads and validates the manifests; it returns the zeroflow objects,
// notes on documents it cannot serve, and an error listing every invalid
// document.
func Load(paths ...string) ([]manifestfile.Object, []string, error) {
	docs, err := manifestfile.Load(paths...)
	var (
		objs    []manifestfile.Object
		skipped []string
		errs    []error
	)
	if err != nil {
		errs = append(errs, unjoin(err)...)
	}
	for _, d := range docs {
		if d.APIVersion == eventingv1.SchemeGroupVersion.String() && (d.Kind == "Broker" || d.Kind == "Trigger") ||
			d.APIVersion == eventingv1alpha1.SchemeGroupVersion.String() && d.Kind == "EventPolicy" {
			continue // served by the broker (broker.LoadConfig)
		}
		obj, err := manifestfile.Decode(d)
		var unknown manifestfile.ErrUnknownKind
		switch {
		case errors.As(err, &unknown):
			skipped = append(skipped, unknown.Error())
			continue
		case err != nil:
			errs = append(errs, err)
			continue
		}
		for _, e := range obj.Errors {
			errs = append(errs, fmt.Errorf("%s: %s: %v", d.Source(), d.Ref(), e))
		}
		if len(obj.Errors) == 0 {
			objs = append(objs, obj)
		}
	}
	return objs, skipped, errors.Join(errs...)
}

// Start validates the manifests, starts the API server and applies them.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	objs, skipped, err := Load(opts.Paths...)
	if err != nil {
		return nil, fmt.Errorf("invalid manifests:\n%w", err)
	}
	declared, err := broker.LoadConfig(opts.Paths...)
	if err != nil {
		return nil, fmt.Errorf("invalid broker manifests:\n%w", err)
	}
	brokers := withEventBuses(declared.Brokers, render.InputOf(manifestfile.Values(objs), DefaultNamespace), logger)
	host := opts.FunctionsHost
	if host == "" {
		host = "127.0.0.1"
	}
	sec := opts.Secrets
	if sec == nil {
		sec = secrets.Local{}
	}
	services, notRun, err := buildServices(ctx, objs, filepath.Join(opts.DataDir, "bin"), logger)
	if err != nil {
		return nil, err
	}
	skipped = append(skipped, notRun...)
	reg := prometheus.NewRegistry()
	ids, err := newIdentities(opts.DataDir)
	if err != nil {
		return nil, err
	}
	fns, err := planFunctions(objs, host, sec, opts.Scaling, reg, logger)
	if err != nil {
		return nil, err
	}
	fns.ids = ids
	var brokerRefs []string
	started := map[string]bool{}
	for _, b := range brokers {
		brokerRefs = append(brokerRefs, b.Namespace+"/"+b.Name)
		started[b.Namespace+"/"+b.Name] = true
	}
	rt := &workflowRuntime{liveness: opts.Liveness}
	rt.artifacts = opts.Artifacts
	if rt.artifacts == "" {
		rt.artifacts = filepath.Join(opts.DataDir, "artifacts")
	}
	if rt.store, err = sdk.OpenArtifacts(rt.artifacts); err != nil {
		return nil, err
	}
	if _, err := sdk.OffloadLimitsFromEnv(); err != nil {
		return nil, err
	}
	// The data dir holds the API's data, the broker's events and the
	// artifacts: other local users have no business reading them.
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := os.Chmod(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(opts.DataDir, ArtifactsLocationFile), []byte(rt.artifacts+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("record the artifact store: %w", err)
	}
	if err := fns.planWorkflows(objs, services, brokerRefs, opts.ControllerURL, rt); err != nil {
		fns.closeListeners()
		return nil, err
	}
	// The routing comes from the same code at start and whenever an
	// EventSource or Sensor changes through the API (reconciler).
	var static []any
	for _, v := range manifestfile.Values(objs) {
		switch v.(type) {
		case *v1alpha1.EventSource, *v1alpha1.Sensor:
		default:
			static = append(static, v)
		}
	}
	routes := &routes{declared: declared, static: static, runtime: fns.triggers, started: started}
	routing, err := routes.config(fns.unitList())
	if err != nil {
		fns.closeListeners()
		return nil, err
	}
	routes.served = routing.Brokers
	ids.plan(routing.Triggers, routing.Brokers, fns.addrs)
	if opts.ControllerURL != "" {
		// A controller of its own process gets its identity as a pod
		// would: from the environment this file lists.
		if err := ids.writeProcessEnv(ctx, "controller.env", DefaultNamespace, render.ControllerService, render.ControllerServiceAccount, "default"); err != nil {
			fns.closeListeners()
			return nil, err
		}
	}
	crds, err := manifests.CRDs()
	if err != nil {
		return nil, err
	}
	api, err := kubeapi.Start(ctx, kubeapi.Options{DataDir: filepath.Join(opts.DataDir, "api"), Addr: opts.APIAddr, KubeconfigPath: opts.KubeconfigPath, CRDs: crds, Logger: logger})
	if err != nil {
		fns.closeListeners()
		return nil, err
	}
	s := &Stack{API: api, Skipped: skipped, functions: fns}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	brokerAddr := opts.BrokerAddr
	if brokerAddr == "" {
		brokerAddr = "127.0.0.1:8080"
	}
	if s.Broker, err = broker.Start(ctx, broker.Options{DataDir: filepath.Join(opts.DataDir, "broker"), Addr: brokerAddr, Logger: logger, Registerer: reg, Resolve: fns.resolve, Identity: ids.brokerIdentity()}); err != nil {
		return nil, err
	}
	if err := s.Broker.Apply(ctx, routing); err != nil {
		return nil, err
	}
	for _, b := range routing.Brokers {
		s.Brokers = append(s.Brokers, b.Namespace+"/"+b.Name)
	}
	client, mapper, err := api.Clients()
	if err != nil {
		return nil, fmt.Errorf("dev stack: %w", err)
	}
	for _, o := range objs {
		if _, ok := o.Value.(*servingv1.Service); ok {
			// Knative's API is not installed here: the stack runs the
			// Service itself.
			s.Applied = append(s.Applied, fmt.Sprintf("Service %s/%s (Knative, run locally)", namespaceOr(o.Document.Namespace), o.Document.Name))
			continue
		}
		ref, generation, err := apply(ctx, client, o)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", o.Document.Source(), o.Document.Ref(), err)
		}
		if u := fns.unit(ref); u != nil {
			// What runs is this generation: the watch leaves it be.
			u.generation = generation
		}
		logger.Info("applied", "object", ref, "source", o.Document.Source())
		s.Applied = append(s.Applied, ref)
	}
	// The functions outlive Start's ctx: they stop with Stop.
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopFunctions = cancel
	controllerSubject := sdk.ServiceAccountSubject(DefaultNamespace, render.ControllerServiceAccount)
	env := &runEnv{api: api, broker: s.Broker, publish: func(ctx context.Context, ev event.Event) error {
		return s.Broker.PublishAs(ctx, controllerSubject, DefaultNamespace, "default", ev)
	}, dynamic: client, mapper: mapper, offload: rt.offload()}
	fns.offload = env.offload
	if err := fns.start(fctx, env); err != nil {
		return nil, fmt.Errorf("start functions: %w", err)
	}
	rec := &reconciler{f: fns, env: env, routes: routes, ids: ids, logger: logger.With("component", "reconciler")}
	fns.goUnit(nil, func() {
		if err := rec.run(fctx); err != nil && fctx.Err() == nil {
			fns.fail(fmt.Errorf("watch EventSources and Sensors: %w", err))
		}
	})
	s.Endpoints = fns.endpoints
	s.Controller = rt.controller
	s.Artifacts = rt.artifacts
	if opts.MetricsAddr != "" {
		l, err := net.Listen("tcp", opts.MetricsAddr)
		if err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		// The broker's: 503 with the reason while its store does not work.
		mux.Handle("/healthz", s.Broker.HealthHandler())
		mux.Handle("/readyz", s.Broker.HealthHandler())
		// Profiles of the whole stack, for `go tool pprof`.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		fns.serveHTTP(fctx, nil, "metrics", mux, l)
		s.MetricsURL = "http://" + l.Addr().String() + "/metrics"
	}
	return s, nil
}

// Functions maps each function the stack runs (by its Knative Service's
// name: the rendered ones, the built-ins and the directory's) to the local
// address Triggers deliver to it at.
func (s *Stack) Functions() map[string]string {
	out := map[string]string{}
	s.functions.mu.Lock()
	defer s.functions.mu.Unlock()
	for _, r := range s.functions.runners {
		out[r.Name()] = ""
	}
	for key, u := range s.functions.addrs {
		_, name, _ := strings.Cut(key, "/")
		if _, ok := out[name]; ok {
			out[name] = u.String()
		}
	}
	return out
}

// Stop shuts the stack down.
func (s *Stack) Stop() error {
	var errs []error
	if s.functions != nil {
		if s.stopFunctions != nil {
			s.stopFunctions()
		}
		errs = append(errs, s.functions.wait())
		s.functions = nil
	}
	if s.Broker != nil {
		errs = append(errs, s.Broker.Close())
		s.Broker = nil
	}
	if s.API != nil {
		errs = append(errs, s.API.Stop())
		s.API = nil
	}
	return errors.Join(errs...)
}

// withEventBuses makes the Brokers the stack's objects need that the
// directory does not declare, as `zeroflow render` does for a cluster
// (render.EventBusBrokers): default/default, which functions and the
// controller send to; every eventBusName of an EventSource or Sensor, in
// its namespace; and "default" in every namespace that holds an object,
// where CronWorkflows fire (those a sensor creates at run time too).
// Retries make the sensor's at-least-once delivery work, and what runs out
// of them is stored by the dead-letter function, as on a cluster: a
// declared Broker without a delivery gets zeroflow's, and a dead-letter
// sink that names the dead-letter function without a namespace names the
// stack's (it runs in DefaultNamespace only).
func withEventBuses(declared []eventingv1.Broker, in render.Input, logger *slog.Logger) []eventingv1.Broker {
	out := make([]eventingv1.Broker, 0, len(declared)+1)
	for _, b := range declared {
		b = render.WithDeliveryDefaults(b, DefaultNamespace)
		if d := b.Spec.Delivery; d != nil && d.DeadLetterSink != nil && d.DeadLetterSink.Ref != nil &&
			d.DeadLetterSink.Ref.Name == render.BuiltinService(render.DeadLetterFunction) && d.DeadLetterSink.Ref.Namespace == "" && b.Namespace != DefaultNamespace {
			b = *b.DeepCopy()
			b.Spec.Delivery.DeadLetterSink.Ref.Namespace = DefaultNamespace
			logger.Info("broker's dead letters go to the stack's dead-letter function", "broker", b.Namespace+"/"+b.Name, "function", DefaultNamespace+"/"+render.BuiltinService(render.DeadLetterFunction))
		}
		out = append(out, b)
	}
	// Every namespace an object is in gets its "default" Broker: that is
	// where its CronWorkflows fire, and its sensors may create
	// CronWorkflows while the stack runs.
	extra := in
	for _, ns := range objectNamespaces(in) {
		extra.CronWorkflows = append(extra.CronWorkflows, &v1alpha1.CronWorkflow{ObjectMeta: metav1.ObjectMeta{Namespace: ns}})
	}
	made := render.EventBusBrokers(extra, DefaultNamespace, "default", broker.ClassAnnotationValue, nil, out)
	for _, b := range made {
		logger.Info("broker not declared: made with zeroflow's delivery", "broker", b.Namespace+"/"+b.Name)
	}
	out = append(out, made...)
	for _, b := range out {
		if b.Namespace == DefaultNamespace && b.Name == "default" {
			return out
		}
	}
	return append(out, render.EventBusBroker(render.BrokerRef{Namespace: DefaultNamespace, Name: "default"}, broker.ClassAnnotationValue, nil, DefaultNamespace))
}

// controllerTriggers are the controller's Triggers on broker
// namespace/name, delivering to the one controller of the stack (in
// DefaultNamespace, with its audience).
func controllerTriggers(namespace, name string) []eventingv1.Trigger {
	ts := render.ControllerTriggers(namespace, name)
	for i := range ts {
		ts[i].Spec.Subscriber = render.ControllerDestination(DefaultNamespace)
	}
	return ts
}

// objectNamespaces are the namespaces of in's EventSources, Sensors and
// CronWorkflows, and DefaultNamespace.
func objectNamespaces(in render.Input) []string {
	set := map[string]bool{DefaultNamespace: true}
	for _, es := range in.EventSources {
		set[es.Namespace] = true
	}
	for _, s := range in.Sensors {
		set[s.Namespace] = true
	}
	for _, cw := range in.CronWorkflows {
		set[cw.Namespace] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// apply creates the object, or replaces the spec of the one that exists;
// it returns the object's ref and the generation the API gave it.
func apply(ctx context.Context, client dynamic.Interface, o manifestfile.Object) (string, int64, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o.Value)
	if err != nil {
		return "", 0, fmt.Errorf("convert: %w", err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion(v1alpha1.SchemeGroupVersion.String())
	u.SetKind(o.Document.Kind)
	if u.GetNamespace() == "" {
		u.SetNamespace(DefaultNamespace)
	}
	unstructured.RemoveNestedField(u.Object, "status")
	resource := v1alpha1.SchemeGroupVersion.WithResource(map[string]string{"Workflow": "workflows", "WorkflowTemplate": "workflowtemplates", "CronWorkflow": "cronworkflows", "EventSource": "eventsources", "Sensor": "sensors"}[o.Document.Kind])
	rc := client.Resource(resource).Namespace(u.GetNamespace())
	ref := fmt.Sprintf("%s %s/%s", o.Document.Kind, u.GetNamespace(), u.GetName())
	existing, err := rc.Get(ctx, u.GetName(), metav1.GetOptions{})
	var out *unstructured.Unstructured
	switch {
	case apierrors.IsNotFound(err):
		out, err = rc.Create(ctx, u, metav1.CreateOptions{})
	case err == nil:
		u.SetResourceVersion(existing.GetResourceVersion())
		out, err = rc.Update(ctx, u, metav1.UpdateOptions{})
	}
	if err != nil {
		return ref, 0, err
	}
	return ref, out.GetGeneration(), nil
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		return joined.Unwrap()
	}
	return []error{err}
}

func namespaceOr(ns string) string {
	if ns == "" {
		return DefaultNamespace
	}
	return ns
}
