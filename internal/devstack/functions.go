package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/dynamic"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/broker"
	"github.com/zeroflow-dev/zeroflow/functions/filter"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/functions/sensor"
	"github.com/zeroflow-dev/zeroflow/functions/webhook"
	"github.com/zeroflow-dev/zeroflow/internal/apiserversource"
	"github.com/zeroflow-dev/zeroflow/internal/funcrunner"
	"github.com/zeroflow-dev/zeroflow/internal/httpbound"
	"github.com/zeroflow-dev/zeroflow/internal/kubeapi"
	"github.com/zeroflow-dev/zeroflow/internal/manifestfile"
	"github.com/zeroflow-dev/zeroflow/internal/pingsource"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
	"github.com/zeroflow-dev/zeroflow/render"
)

// functions are the functions the stack runs on loopback, each behind a
// funcrunner.Runner on a fixed address (the Knative Service's), and the
// Triggers that route to them.
type functions struct {
	host    string
	logger  *slog.Logger
	secrets secrets.Resolver
	scaling Scaling
	metrics *funcrunner.Metrics
	// registry receives the metrics of the parts that are not functions
	// (the controller).
	registry prometheus.Registerer
	triggers []eventingv1.Trigger
	// addrs maps "namespace/name" of each Service the stack runs (and the
	// controller's) to its local address: the broker resolves Triggers'
	// subscriber refs through it, as Knative resolves them on a cluster.
	addrs map[string]*apis.URL
	// endpoints lists, for people, where each function listens.
	endpoints []string
	// pending are the functions to start once the broker and API run.
	pending []func(ctx context.Context, env *runEnv) error
	// units are the EventSources' and Sensors' functions, by unitKey:
	// each starts and stops on its own, as the API's objects come, change
	// and go (reconcile.go). Guarded by mu.
	units map[string]*unit

	// offload is the stack's artifact store for large events and values,
	// set before the functions start.
	offload sdk.EventOffload

	// ids gives each function its identity (sender identity is always on
	// in the dev stack).
	ids *identities

	listeners []net.Listener
	runners   []*funcrunner.Runner
	// mu guards runners, units and addrs, which change while the stack
	// runs.
	mu   sync.Mutex
	wg   sync.WaitGroup
	errs chan error
}

// Scaling is Knative's scaling contract as `zeroflow dev` applies it to
// every function.
type Scaling struct {
	// IdleWindow is how long an instance with no requests lives (default
	// 60s); zero-valued fields take their defaults.
	IdleWindow time.Duration
	// Target is the requests one instance takes at once before another
	// starts, unless the Service sets its own (default 100).
	Target int
	// MaxScale bounds a function's instances unless the Service sets its
	// own (default 10).
	MaxScale int
	// StepFailureRate, for chaos testing, is the fraction of step.run
	// deliveries answered 500 before they reach a step function (the
	// broker retries them).
	StepFailureRate float64
}

// runEnv is what functions need once the stack is up.
type runEnv struct {
	api    *kubeapi.Server
	broker *broker.Broker
	// publish hands an event to the default broker in process.
	publish func(ctx context.Context, ev event.Event) error
	// dynamic and mapper reach any kind the API serves; every function
	// that acts on objects (sensors' k8s triggers, resource steps) shares
	// them.
	dynamic dynamic.Interface
	mapper  meta.RESTMapper
	// offload is the stack's artifact store as every function's place for
	// events and values above the offload threshold (DESIGN §11): the
	// functions in this process do not read $ZEROFLOW_ARTIFACTS.
	offload sdk.EventOffload
}

// planFunctions opens the listeners of every function of objs and renders
// the Triggers that route to them; nothing serves until start.
func planFunctions(objs []manifestfile.Object, host string, sec secrets.Resolver, scaling Scaling, reg prometheus.Registerer, logger *slog.Logger) (_ *functions, err error) {
	f := &functions{host: host, logger: logger, secrets: sec, scaling: scaling, metrics: funcrunner.NewMetrics(reg), registry: reg, addrs: map[string]*apis.URL{}, units: map[string]*unit{}, errs: make(chan error, 64)}
	defer func() {
		if err != nil {
			f.closeListeners()
		}
	}()
	for _, o := range objs {
		var (
			u   *unit
			err error
		)
		switch v := o.Value.(type) {
		case *v1alpha1.EventSource:
			u, err = f.planEventSource(withNamespace(v.DeepCopy()))
		case *v1alpha1.Sensor:
			u, err = f.planSensor(withNamespace(v.DeepCopy()))
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", o.Document.Source(), o.Document.Ref(), err)
		}
		if f.unit(u.key()) != nil {
			u.closeListeners()
			return nil, fmt.Errorf("%s: %s is declared twice", o.Document.Source(), u.key())
		}
		f.setUnit(u.key(), u)
	}
	return f, nil
}

// resolve finds the local address of the Service a Trigger's subscriber
// names, as Knative's resolver finds a Service's cluster address; a
// relative uri is resolved against it.
func (f *functions) resolve(_ context.Context, namespace string, d duckv1.Destination) (*apis.URL, error) {
	ref := d.Ref
	if ref == nil {
		return nil, fmt.Errorf("a subscriber without a ref needs an absolute uri")
	}
	if ref.Kind != "Service" || (ref.APIVersion != "v1" && ref.APIVersion != servingv1.SchemeGroupVersion.String()) {
		return nil, fmt.Errorf("zeroflow dev resolves refs to Services only, not %s %s", ref.Kind, ref.Name)
	}
	ns := ref.Namespace
	if ns == "" {
		ns = namespace
	}
	f.mu.Lock()
	base, ok := f.addrs[ns+"/"+ref.Name]
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no Service %s/%s runs in zeroflow dev", ns, ref.Name)
	}
	if d.URI == nil {
		return base, nil
	}
	return base.ResolveReference(d.URI), nil
}

func (f *functions) listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	f.listeners = append(f.listeners, l)
	return l, nil
}

// listenURL opens a listener on a free port of the host.
func (f *functions) listenURL() (net.Listener, *apis.URL, error) {
	l, err := f.listen(net.JoinHostPort(f.host, "0"))
	if err != nil {
		return nil, nil, err
	}
	u, _ := apis.ParseURL("http://" + l.Addr().String())
	return l, u, nil
}

func withNamespace[T interface {
	GetNamespace() string
	SetNamespace(string)
}](o T) T {
	if o.GetNamespace() == "" {
		o.SetNamespace(DefaultNamespace)
	}
	return o
}

// planEventSource listens on each port of the EventSource's webhooks, as
// the EventSource's Service would on a cluster (an instance starts on the
// first request), and runs its calendar PingSources and ApiServerSources.
// A port that is taken is an error naming it.
func (f *functions) planEventSource(es *v1alpha1.EventSource) (_ *unit, err error) {
	u := newUnit("EventSource", es.Namespace, es.Name, es)
	u.generation = es.Generation
	defer func() {
		if err != nil {
			u.closeListeners()
		}
	}()
	pings := render.Calendar(es).PingSources
	for _, p := range pings {
		u.endpoints = append(u.endpoints, fmt.Sprintf("calendar %s/%s %q", es.Name, p.Spec.CloudEventOverrides.Extensions[events.ExtEvent], p.Spec.Schedule))
	}
	apiSources := render.ResourceSources(es).ApiServerSources
	for _, a := range apiSources {
		u.endpoints = append(u.endpoints, fmt.Sprintf("resource %s/%s %s %s", es.Name, a.Spec.CloudEventOverrides.Extensions[events.ExtEvent], a.Spec.Resources[0].APIVersion, a.Spec.Resources[0].Kind))
	}
	ports := map[string]bool{}
	for name, w := range es.Spec.Webhook {
		ports[w.Port] = true
		u.endpoints = append(u.endpoints, fmt.Sprintf("webhook  %s/%s %s http://%s%s", es.Name, name, w.Method, net.JoinHostPort(f.host, w.Port), w.Endpoint))
	}
	sort.Strings(u.endpoints)
	byPort := map[string]net.Listener{}
	for port := range ports {
		l, err := u.listen(net.JoinHostPort(f.host, port))
		if err != nil {
			return nil, fmt.Errorf("webhook port %s: %w", port, err)
		}
		byPort[port] = l
	}
	u.start = func(ctx context.Context, env *runEnv) error {
		if len(byPort) > 0 {
			if err := f.startWebhook(ctx, env, u, es, byPort); err != nil {
				return err
			}
		}
		if len(pings) > 0 {
			f.goUnit(u, func() {
				if err := pingsource.Run(ctx, pings, env.broker.PublishAs, f.logger.With("component", "pingsource", "eventSource", es.Namespace+"/"+es.Name)); err != nil {
					f.fail(fmt.Errorf("eventsource %s/%s: pingsources: %w", es.Namespace, es.Name, err))
				}
			})
		}
		if len(apiSources) > 0 {
			f.goUnit(u, func() {
				if err := apiserversource.Run(ctx, apiSources, env.dynamic, env.mapper, env.api.Config().Host, env.broker.PublishAs, f.logger.With("component", "apiserversource", "eventSource", es.Namespace+"/"+es.Name)); err != nil && ctx.Err() == nil {
					f.fail(fmt.Errorf("eventsource %s/%s: apiserversources: %w", es.Namespace, es.Name, err))
				}
			})
		}
		return nil
	}
	return u, nil
}

// startWebhook serves the EventSource's webhooks on their listeners.
func (f *functions) startWebhook(ctx context.Context, env *runEnv, u *unit, es *v1alpha1.EventSource, byPort map[string]net.Listener) error {
	// In one process the webhook hands events to the broker directly;
	// on a cluster it POSTs them to the broker's ingress.
	// Each EventSource's webhook runs as its own ServiceAccount, which
	// its EventPolicy binds to its name (render.EventSourceEventPolicies).
	sender := sdk.ServiceAccountSubject(es.Namespace, render.EventSourceServiceAccountName(es))
	send := func(ctx context.Context, ev event.Event) error {
		return env.broker.PublishAs(ctx, sender, es.Namespace, es.Spec.BrokerName(), ev)
	}
	w, err := webhook.New(es, webhook.Options{Send: send, Secrets: f.secrets, Logger: f.logger, Offload: &env.offload})
	if err != nil {
		return err
	}
	// A missing or empty authSecret stops the stack rather than serve
	// a webhook that an empty token opens.
	if err := w.Check(ctx); err != nil {
		return err
	}
	// One function, as on a cluster (render.EventSource), listening on
	// each of the webhooks' ports, since there is no ingress here to
	// route by host.
	name := render.EventSourceName(es)
	r := f.run(ctx, u, name, byPort[sortedPorts(byPort)[0]], funcrunner.InProcess(func(ictx context.Context, l net.Listener) error {
		return sdk.ServeHTTP(ictx, w.Handler(), sdk.Options{Listener: l, Logger: f.logger.With("function", name), DrainTimeout: 10 * time.Second})
	}), scale{})
	for _, port := range sortedPorts(byPort)[1:] {
		f.serveHTTP(ctx, u, name, r, byPort[port])
	}
	return nil
}

// fail reports an error of a part that runs on its own: in the log at
// once, and from Stop.
func (f *functions) fail(err error) {
	f.logger.Error("dev stack", "error", err)
	select {
	case f.errs <- err:
	default:
		// The channel is full: Stop returns the first ones, the log has
		// them all.
	}
}

func sortedPorts(m map[string]net.Listener) []string {
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// planSensor listens for the sensor's filter and sensor functions and
// renders the Triggers that route the sensor's events to them.
func (f *functions) planSensor(s *v1alpha1.Sensor) (_ *unit, err error) {
	u := newUnit("Sensor", s.Namespace, s.Name, s)
	u.generation = s.Generation
	defer func() {
		if err != nil {
			u.closeListeners()
		}
	}()
	fl, filterURL, err := u.listenURL(f.host)
	if err != nil {
		return nil, err
	}
	sl, sensorURL, err := u.listenURL(f.host)
	if err != nil {
		return nil, err
	}
	u.addrs[s.Namespace+"/"+render.SensorFilterName(s)] = filterURL
	u.addrs[s.Namespace+"/"+render.SensorFunctionName(s)] = sensorURL
	u.triggers = render.SensorTriggers(s)
	u.endpoints = append(u.endpoints, fmt.Sprintf("sensor   %s/%s (filter %s, sensor %s)", s.Namespace, s.Name, filterURL, sensorURL))
	u.start = func(ctx context.Context, env *runEnv) error {
		fn, err := filter.NewFunction(s, f.logger)
		if err != nil {
			return err
		}
		sink := env.broker.Address(s.Namespace, s.Spec.BrokerName())
		f.runHandler(ctx, u, s.Namespace, render.SensorFilterName(s), render.FilterServiceAccount, s.Spec.BrokerName(), fl, fn, sink, scale{})
		// Each instance is a sensor of its own, as each pod would be: its
		// state is in the Sensor's status, not in the instance.
		name := render.SensorFunctionName(s)
		// It posts as the ServiceAccount it runs as on a cluster, which
		// its EventPolicy names. The in-process API has no RBAC: what
		// that ServiceAccount may do there is not checked (a cluster
		// checks it; zeroflow render --rbac prints what it needs).
		account := render.SensorServiceAccountName(s)
		if account != render.SensorServiceAccount {
			f.logger.Info("sensor runs as its own ServiceAccount (recorded; the dev API has no RBAC)", "sensor", s.Namespace+"/"+s.Name, "serviceAccountName", account)
		}
		auth, token := f.ids.serveOptions(s.Namespace, name, account, s.Spec.BrokerName())
		f.run(ctx, u, name, sl, funcrunner.InProcess(func(ictx context.Context, l net.Listener) error {
			sn, err := sensor.New(ictx, sensor.Config{
				Sensor:  s,
				Dynamic: env.dynamic,
				Mapper:  env.mapper,
				Send:    sdk.NewSender(sink).WithToken(token).WithOffload(env.offload, "").Send,
				Secrets: f.secrets,
				Logger:  f.logger,
				Offload: &env.offload,
			})
			if err != nil {
				return err
			}
			return sdk.Serve(ictx, sn, sdk.Options{Listener: l, Sink: sink, Auth: auth, Token: token, Logger: f.logger.With("function", name), DrainTimeout: 10 * time.Second, Offload: env.offload})
		}), scale{})
		return nil
	}
	return u, nil
}

// runHandler runs a CloudEvents handler as a scale-to-zero function
// namespace/name on l, acting as serviceAccount towards broker brokerName,
// as part of u (nil for the stack's own functions).
func (f *functions) runHandler(ctx context.Context, u *unit, namespace, name, serviceAccount, brokerName string, l net.Listener, h sdk.Handler, sink string, sc scale) {
	auth, token := f.ids.serveOptions(namespace, name, serviceAccount, brokerName)
	f.run(ctx, u, name, l, funcrunner.InProcess(func(ictx context.Context, il net.Listener) error {
		return sdk.Serve(ictx, h, sdk.Options{Listener: il, Sink: sink, Auth: auth, Token: token, Logger: f.logger.With("function", name), DrainTimeout: 10 * time.Second, Offload: f.offload})
	}), sc)
}

// scale is a function's own scaling settings; zero takes the stack's.
type scale struct {
	target, min, max int
	// step marks a step function, which StepFailureRate applies to.
	step bool
}

// run serves a function's runner on l until ctx ends, as part of u (nil
// for the stack's own functions).
func (f *functions) run(ctx context.Context, u *unit, name string, l net.Listener, start funcrunner.Starter, sc scale) *funcrunner.Runner {
	if sc.target <= 0 {
		sc.target = f.scaling.Target
	}
	if sc.max <= 0 {
		sc.max = f.scaling.MaxScale
	}
	cfg := funcrunner.Config{Name: name, Start: start, Target: sc.target, MinScale: sc.min, MaxScale: sc.max, IdleWindow: f.scaling.IdleWindow, Logger: f.logger, Metrics: f.metrics}
	if sc.step {
		cfg.FailureRate = f.scaling.StepFailureRate
	}
	r := funcrunner.New(cfg)
	f.mu.Lock()
	f.runners = append(f.runners, r)
	if u != nil {
		u.runners = append(u.runners, r)
	}
	f.mu.Unlock()
	f.serveHTTP(ctx, u, name, r, l)
	return r
}

// serveHTTP serves h on l until ctx ends, as part of u (nil for the
// stack's own servers).
func (f *functions) serveHTTP(ctx context.Context, u *unit, name string, h http.Handler, l net.Listener) {
	f.goUnit(u, func() {
		// The body is read before the runner takes one of its slots
		// (the instances' concurrency targets), so that slow senders
		// hold connections, which the listener bounds, and not the
		// slots whole requests need (issue 13).
		lim := httpbound.Limits{Logger: f.logger.With("function", name)}
		srv := httpbound.NewServer(httpbound.BufferBody(h, 0), lim)
		go func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		if err := srv.Serve(httpbound.Listener(l, lim)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			f.fail(fmt.Errorf("%s: %w", name, err))
		}
	})
}

// start serves every planned function until ctx ends.
func (f *functions) start(ctx context.Context, env *runEnv) error {
	var errs []error
	for _, p := range f.pending {
		errs = append(errs, p(ctx, env))
	}
	for _, u := range f.unitList() {
		errs = append(errs, f.startUnit(ctx, env, u))
		f.endpoints = append(f.endpoints, u.endpoints...)
	}
	sort.Strings(f.endpoints)
	return errors.Join(errs...)
}

// closeListeners closes what no function serves (a served listener is
// closed already; closing it again does no harm).
func (f *functions) closeListeners() {
	for _, l := range f.listeners {
		_ = l.Close()
	}
	for _, u := range f.unitList() {
		u.closeListeners()
	}
}

// wait waits for the functions' servers to end, stops every instance and
// returns their errors.
func (f *functions) wait() error {
	f.wg.Wait()
	f.closeListeners()
	var errs []error
	f.mu.Lock()
	runners := f.runners
	f.mu.Unlock()
	for _, r := range runners {
		errs = append(errs, r.Close())
	}
	close(f.errs)
	for err := range f.errs {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
