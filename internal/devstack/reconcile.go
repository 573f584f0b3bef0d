package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/broker"
	"github.com/zeroflow-dev/zeroflow/render"
)

// routes is how the stack computes the broker's whole routing from what
// runs, at start and whenever an EventSource or Sensor changes: the
// directory's Brokers, Triggers and EventPolicies, the workflow runtime's
// Triggers, and what render makes for the objects (their Brokers,
// Triggers and EventPolicies), as on a cluster.
type routes struct {
	// declared is what the directory declares (broker.LoadConfig).
	declared broker.Config
	// static are the directory's objects other than EventSources and
	// Sensors, which the policies and Brokers depend on too.
	static []any
	// runtime are the workflow runtime's Triggers, with the controller's
	// on every Broker of started.
	runtime []eventingv1.Trigger
	started map[string]bool
	// served are the Brokers served so far: a Broker stays while the
	// stack runs even when no object names it any more, since removing it
	// would drop the events it holds.
	served []eventingv1.Broker
	// crons are the CronWorkflows the API holds, by namespace/name: the
	// "default" Broker of each one's namespace is where its PingSources
	// fire, so it must exist even when nothing else is in that namespace.
	crons map[string]*v1alpha1.CronWorkflow
}

// config is the routing for the directory's objects and the units that
// run.
func (r *routes) config(units []*unit) (broker.Config, error) {
	values := slices.Clone(r.static)
	for _, k := range slices.Sorted(maps.Keys(r.crons)) {
		values = append(values, r.crons[k])
	}
	var triggers []eventingv1.Trigger
	for _, u := range units {
		values = append(values, u.object)
		triggers = append(triggers, u.triggers...)
	}
	in := render.InputOf(values, DefaultNamespace)
	// The Brokers made for the objects are logged once, at start.
	brokers := withEventBuses(r.declared.Brokers, in, slog.New(slog.DiscardHandler))
	for _, b := range r.served {
		if !slices.ContainsFunc(brokers, func(o eventingv1.Broker) bool { return o.Namespace == b.Namespace && o.Name == b.Name }) {
			brokers = append(brokers, b)
		}
	}
	cfg := broker.Config{Brokers: brokers}
	cfg.Triggers = append(slices.Clone(r.declared.Triggers), r.runtime...)
	for _, b := range brokers {
		if !r.started[b.Namespace+"/"+b.Name] {
			// A Broker made at run time (a new eventBusName or namespace):
			// sensors submit to the controller through it too.
			cfg.Triggers = append(cfg.Triggers, controllerTriggers(b.Namespace, b.Name)...)
		}
	}
	cfg.Triggers = append(cfg.Triggers, triggers...)
	// Who may send what: the EventPolicies render makes for a cluster, for
	// the same objects, beside any the directory declares.
	policies, err := render.EventPolicies(in, DefaultNamespace, "default")
	if err != nil {
		return broker.Config{}, fmt.Errorf("event policies: %w", err)
	}
	cfg.EventPolicies = append(slices.Clone(r.declared.EventPolicies), policies...)
	// The "default" Broker of every other namespace is where CronWorkflows
	// made there at run time fire: only their PingSources may send to it
	// (and the namespace's senders that render's policies list).
	for _, b := range brokers {
		if b.Name == "default" && b.Namespace != DefaultNamespace && !slices.ContainsFunc(cfg.EventPolicies, func(p eventingv1alpha1.EventPolicy) bool {
			return p.Namespace == b.Namespace && p.Name == render.CronPolicy
		}) {
			cfg.EventPolicies = append(cfg.EventPolicies, render.CronEventPolicy(b.Namespace, b.Name))
		}
	}
	return cfg, nil
}

// reconciler keeps the EventSources and Sensors that run in step with the
// API, as a Knative reconciler keeps a cluster's rendered objects: one
// created, changed or deleted through the API (kubectl, a sensor's k8s
// trigger) takes effect at once. Each change replaces the object's unit
// (its functions, on new listeners; an EventSource's on its declared
// ports), the broker's routing and the identities, through the same plan
// and render code as the objects of the directory at start.
type reconciler struct {
	f      *functions
	env    *runEnv
	routes *routes
	ids    *identities
	logger *slog.Logger
}

// run watches EventSources and Sensors in every namespace until ctx ends.
// Changes are handled one at a time, so that each broker config is built
// from a settled set of units. A failure is retried with backoff.
func (r *reconciler) run(ctx context.Context) error {
	queue := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](), workqueue.TypedRateLimitingQueueConfig[string]{Name: "devstack-objects"})
	stores := map[string]cache.Store{}
	var synced []cache.InformerSynced
	for kind, resource := range map[string]string{"EventSource": "eventsources", "Sensor": "sensors", "CronWorkflow": "cronworkflows"} {
		inf := dynamicinformer.NewFilteredDynamicInformer(r.env.dynamic, v1alpha1.SchemeGroupVersion.WithResource(resource), metav1.NamespaceAll, 0, cache.Indexers{}, nil).Informer()
		enqueue := func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if u, ok := obj.(*unstructured.Unstructured); ok {
				queue.Add(unitKey(kind, u.GetNamespace(), u.GetName()))
			}
		}
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: enqueue,
			UpdateFunc: func(oldObj, newObj any) {
				// A status write (a sensor's conditions) changes nothing
				// that runs: only a new generation does.
				old, ok1 := oldObj.(*unstructured.Unstructured)
				cur, ok2 := newObj.(*unstructured.Unstructured)
				if ok1 && ok2 && old.GetGeneration() == cur.GetGeneration() {
					return
				}
				enqueue(newObj)
			},
			DeleteFunc: enqueue,
		}); err != nil {
			return fmt.Errorf("watch %s: %w", resource, err)
		}
		stores[kind] = inf.GetStore()
		synced = append(synced, inf.HasSynced)
		r.f.goUnit(nil, func() { inf.RunWithContext(ctx) })
	}
	r.f.goUnit(nil, func() {
		<-ctx.Done()
		queue.ShutDown()
	})
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return nil
	}
	r.logger.InfoContext(ctx, "watching EventSources and Sensors: changes through the API take effect at once")
	for {
		key, shutdown := queue.Get()
		if shutdown {
			return nil
		}
		err := r.reconcile(ctx, stores, key)
		switch {
		case err == nil:
			queue.Forget(key)
		case ctx.Err() != nil:
		default:
			r.logger.ErrorContext(ctx, "could not run the object as the API holds it; trying again", "object", key, "retries", queue.NumRequeues(key), "error", err)
			queue.AddRateLimited(key)
		}
		queue.Done(key)
	}
}

// reconcile makes what runs for key what the watch last saw of it.
func (r *reconciler) reconcile(ctx context.Context, stores map[string]cache.Store, key string) error {
	kind, ref, _ := strings.Cut(key, " ")
	obj, exists, err := stores[kind].GetByKey(ref)
	if err != nil {
		return fmt.Errorf("%s: read the watch's copy: %w", key, err)
	}
	if kind == "CronWorkflow" {
		return r.reconcileCron(ctx, ref, obj, exists)
	}
	old := r.f.unit(key)
	if !exists {
		if old == nil {
			return nil
		}
		return r.remove(ctx, old, true)
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return fmt.Errorf("%s: the watch holds a %T", key, obj)
	}
	if old != nil && old.generation == u.GetGeneration() {
		// The one that runs: the directory's at start, or one reconciled
		// already.
		return nil
	}
	verb := "created"
	if old != nil {
		verb = "updated"
	}
	next, errs, err := r.plan(ctx, kind, u, old)
	switch {
	case err != nil:
		return err
	case len(errs) > 0:
		// The previous one (if any) keeps running, as a Knative Service
		// keeps its last good revision; the next change is tried anew.
		r.logger.ErrorContext(ctx, strings.ToLower(kind)+" not run: invalid", "object", key, "error", errs.ToAggregate())
		return nil
	}
	return r.replace(ctx, old, next, verb)
}

// reconcileCron records a CronWorkflow of the API and routes again when
// its namespace has no Broker yet (the controller schedules it; see
// devSchedules). A Broker once made stays, as every Broker does.
func (r *reconciler) reconcileCron(ctx context.Context, ref string, obj any, exists bool) error {
	if r.routes.crons == nil {
		r.routes.crons = map[string]*v1alpha1.CronWorkflow{}
	}
	if !exists {
		delete(r.routes.crons, ref)
		return nil
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return fmt.Errorf("CronWorkflow %s: the watch holds a %T", ref, obj)
	}
	cw := &v1alpha1.CronWorkflow{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, cw); err != nil {
		return fmt.Errorf("CronWorkflow %s: %w", ref, err)
	}
	r.routes.crons[ref] = cw
	if slices.ContainsFunc(r.routes.served, func(b eventingv1.Broker) bool { return b.Namespace == cw.Namespace && b.Name == "default" }) {
		return nil
	}
	return r.route(ctx)
}

// plan decodes and validates the object and opens its unit's listeners.
// An EventSource's webhooks listen on the ports it declares, which the
// one it replaces holds: that one stops first.
func (r *reconciler) plan(ctx context.Context, kind string, u *unstructured.Unstructured, old *unit) (*unit, field.ErrorList, error) {
	switch kind {
	case "Sensor":
		s := &v1alpha1.Sensor{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, s); err != nil {
			return nil, field.ErrorList{field.Invalid(field.NewPath(""), u.GetName(), err.Error())}, nil
		}
		if errs := v1alpha1.ValidateSensor(withNamespace(s)); len(errs) > 0 {
			return nil, errs, nil
		}
		next, err := r.f.planSensor(s)
		return next, nil, err
	case "EventSource":
		es := &v1alpha1.EventSource{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, es); err != nil {
			return nil, field.ErrorList{field.Invalid(field.NewPath(""), u.GetName(), err.Error())}, nil
		}
		if errs := v1alpha1.ValidateEventSource(withNamespace(es)); len(errs) > 0 {
			return nil, errs, nil
		}
		if old != nil {
			if err := r.remove(ctx, old, false); err != nil {
				return nil, nil, err
			}
		}
		next, err := r.f.planEventSource(es)
		return next, nil, err
	}
	return nil, nil, fmt.Errorf("%s %s: not a kind the stack runs", kind, u.GetName())
}

// replace starts next in old's place (old may be nil): next's functions
// start with the identities of the new routing, the broker routes to them,
// and only then does old stop. On a failure old keeps running.
func (r *reconciler) replace(ctx context.Context, old, next *unit, verb string) error {
	key := next.key()
	if old != nil && r.f.unit(key) != old {
		// remove stopped it already (an EventSource).
		old = nil
	}
	r.f.setUnit(key, next)
	cfg, err := r.routing()
	if err == nil {
		if err = r.f.startUnit(ctx, r.env, next); err == nil {
			if err = r.apply(ctx, cfg); err != nil {
				err = errors.Join(err, r.f.stopUnit(next))
			}
		}
	} else {
		next.closeListeners()
	}
	if err != nil {
		r.f.setUnit(key, old)
		return errors.Join(err, r.route(ctx))
	}
	if old != nil {
		if err := r.f.stopUnit(old); err != nil {
			r.logger.WarnContext(ctx, "stopping the replaced functions", "object", key, "error", err)
		}
	}
	r.logger.InfoContext(ctx, strings.ToLower(next.kind)+" "+verb, "object", key, "generation", next.generation, "listens", next.endpoints)
	return nil
}

// remove stops what runs for a deleted object (logged when deleted), or
// one about to be replaced: the broker stops routing to it first.
func (r *reconciler) remove(ctx context.Context, old *unit, deleted bool) error {
	key := old.key()
	r.f.setUnit(key, nil)
	if err := r.route(ctx); err != nil {
		r.f.setUnit(key, old)
		return err
	}
	if err := r.f.stopUnit(old); err != nil {
		r.logger.WarnContext(ctx, "stopping the deleted object's functions", "object", key, "error", err)
	}
	if deleted {
		r.logger.InfoContext(ctx, strings.ToLower(old.kind)+" deleted", "object", key, "stopped", old.endpoints)
	}
	return nil
}

// routing computes the routing of the units that are set, gives the
// controller an address in the namespaces of Brokers made since start,
// and plans the identities for it (for the functions started from now
// on); the broker does not route by it yet.
func (r *reconciler) routing() (broker.Config, error) {
	cfg, err := r.routes.config(r.f.unitList())
	if err != nil {
		return broker.Config{}, err
	}
	r.f.mu.Lock()
	ctrl := r.f.addrs[DefaultNamespace+"/"+render.ControllerService]
	for _, b := range cfg.Brokers {
		if _, ok := r.f.addrs[b.Namespace+"/"+render.ControllerService]; !ok && ctrl != nil {
			r.f.addrs[b.Namespace+"/"+render.ControllerService] = ctrl
		}
	}
	addrs := maps.Clone(r.f.addrs)
	r.f.mu.Unlock()
	r.ids.plan(cfg.Triggers, cfg.Brokers, addrs)
	return cfg, nil
}

// apply makes the broker route by cfg.
func (r *reconciler) apply(ctx context.Context, cfg broker.Config) error {
	if err := r.env.broker.Apply(ctx, cfg); err != nil {
		return err
	}
	for _, b := range cfg.Brokers {
		if !slices.ContainsFunc(r.routes.served, func(o eventingv1.Broker) bool { return o.Namespace == b.Namespace && o.Name == b.Name }) {
			r.logger.InfoContext(ctx, "broker not declared: made with zeroflow's delivery for an object created at run time", "broker", b.Namespace+"/"+b.Name)
		}
	}
	r.routes.served = cfg.Brokers
	return nil
}

// route applies the routing of the units that are set.
func (r *reconciler) route(ctx context.Context) error {
	cfg, err := r.routing()
	if err != nil {
		return err
	}
	return r.apply(ctx, cfg)
}
