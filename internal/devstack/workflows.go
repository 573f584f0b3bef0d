package devstack

import (
	"context"
	"fmt"
	"net"
	"path/filepath"

	"strconv"
	"strings"
	"time"

	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"knative.dev/pkg/apis"

	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
	"github.com/zeroflow-dev/zeroflow/functions/archive"
	"github.com/zeroflow-dev/zeroflow/functions/deadletter"
	"github.com/zeroflow-dev/zeroflow/functions/exec"
	zfhttp "github.com/zeroflow-dev/zeroflow/functions/http"
	"github.com/zeroflow-dev/zeroflow/functions/resource"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/funcrunner"
	"github.com/zeroflow-dev/zeroflow/internal/manifestfile"
	"github.com/zeroflow-dev/zeroflow/internal/pingsource"
	"github.com/zeroflow-dev/zeroflow/render"
)

// workflowRuntime is the workflow half of the stack: the controller, the
// built-in step functions and the archive, and the directory's Knative
// Services (the user's functions).
type workflowRuntime struct {
	controller *controller.Controller
	// artifacts is the store's location, store the store.
	artifacts string
	store     sdk.Artifacts
	// hosts maps each Service's cluster host names to its local address.
	hosts map[string]string
	// liveness is the controller's heartbeat and loss times.
	liveness Liveness
}

// Liveness is how often steps heartbeat and when the controller gives an
// attempt up as lost; zero fields take the controller's defaults.
type Liveness struct {
	HeartbeatInterval, LostAfter, StartTimeout time.Duration
}

// resyncPeriod is the dev controller's resync: every 10s, or a quarter of
// a shorter lost-after time.
func resyncPeriod(l Liveness) time.Duration {
	if l.LostAfter > 0 && l.LostAfter/4 < 10*time.Second {
		return max(l.LostAfter/4, 100*time.Millisecond)
	}
	return 10 * time.Second
}

// TokenKeyFile names the controller's step-token key in the stack's
// identity directory (0700, in the data directory): made once, 0600, so
// that a restarted stack accepts the results of steps it dispatched
// before.
const TokenKeyFile = "controller-token.key"

// Knative's autoscaling annotations that `zeroflow dev` honours.
const (
	annotationTarget   = "autoscaling.knative.dev/target"
	annotationMinScale = "autoscaling.knative.dev/min-scale"
	annotationMaxScale = "autoscaling.knative.dev/max-scale"
)

// planWorkflows opens the listeners of the workflow runtime and renders
// its Triggers: the controller's on every broker (sensors anywhere submit
// to it), the step functions' and the archive's on default/default, where
// the controller sends.
func (f *functions) planWorkflows(objs []manifestfile.Object, services []builtService, brokers []string, external string, rt *workflowRuntime) error {
	var (
		cl      net.Listener
		ctrlURL *apis.URL
		err     error
	)
	if external != "" {
		if ctrlURL, err = apis.ParseURL(external); err != nil {
			return fmt.Errorf("controller URL %q: %w", external, err)
		}
	} else if cl, ctrlURL, err = f.listenURL(); err != nil {
		return err
	}
	for _, b := range brokers {
		ns, name := splitRef(b)
		// One controller serves every namespace: the Triggers of other
		// namespaces name it in DefaultNamespace, with its audience.
		f.triggers = append(f.triggers, controllerTriggers(ns, name)...)
		f.addrs[ns+"/"+render.ControllerService] = ctrlURL
	}
	f.endpoints = append(f.endpoints, fmt.Sprintf("control  workflow controller %s", ctrlURL))
	rt.hosts = map[string]string{}

	type builtin struct {
		name string
		l    net.Listener
	}
	// The built-ins are what a cluster's manifests install: run each
	// Service of render.Runtime, routed by its Triggers.
	runtime := render.Runtime(DefaultNamespace, "default", render.Options{})
	var builtins []builtin
	for _, svc := range runtime.Services {
		l, u, err := f.listenURL()
		if err != nil {
			return err
		}
		builtins = append(builtins, builtin{svc.Labels[render.LabelFunction], l})
		f.addrs[DefaultNamespace+"/"+svc.Name] = u
	}
	for _, t := range runtime.Triggers {
		if t.Labels[render.LabelComponent] != "controller" { // added for every broker above
			f.triggers = append(f.triggers, t)
		}
	}

	// CronWorkflows are scheduled by the controller's watch of the API
	// (devSchedules), those of DIR (applied at start) as those created
	// later; the runtime's cron Trigger (ControllerTriggers) routes their
	// firings to the controller. DIR's are listed here for the eye only.
	in := render.InputOf(manifestfile.Values(objs), DefaultNamespace)
	for _, cw := range in.CronWorkflows {
		f.endpoints = append(f.endpoints, fmt.Sprintf("cron     %s/%s %v", cw.Namespace, cw.Name, cw.Spec.AllSchedules()))
	}

	calledNames := in.CalledFunctions()
	called := map[string]bool{}
	for _, name := range calledNames {
		called[name] = true
	}
	declared := map[string]bool{}
	type user struct {
		svc builtService
		l   net.Listener
	}
	var users []user
	for _, s := range services {
		l, u, err := f.listenURL()
		if err != nil {
			return err
		}
		users = append(users, user{s, l})
		ns := s.svc.Namespace
		if ns == "" {
			ns = DefaultNamespace
		}
		hosts := []string{s.svc.Name + "." + ns + ".svc.cluster.local", s.svc.Name + "." + ns + ".svc", s.svc.Name + "." + ns}
		if ns == DefaultNamespace {
			// A pod finds a Service of its own namespace by its bare name.
			hosts = append(hosts, s.svc.Name)
		}
		for _, h := range hosts {
			rt.hosts[h] = l.Addr().String()
		}
		f.addrs[ns+"/"+s.svc.Name] = u
		if called[s.svc.Name] {
			f.triggers = append(f.triggers, render.StepFunctionTriggers(DefaultNamespace, "default", s.svc.Name, s.svc.Name)...)
			declared[s.svc.Name] = true
		}
		f.endpoints = append(f.endpoints, fmt.Sprintf("service  %s/%s %s (http://%s.%s.svc.cluster.local)", ns, s.svc.Name, u, s.svc.Name, ns))
	}
	for _, name := range calledNames {
		if declared[name] {
			continue
		}
		f.logger.Warn("a template calls a function that no Knative Service in the directory declares: its steps will wait for a result until their timeout", "function", name)
	}

	f.pending = append(f.pending, func(ctx context.Context, env *runEnv) error {
		client, err := controller.NewClient(env.api.Config())
		if err != nil {
			return err
		}
		// The CronWorkflows' PingSources, as the controller's watch
		// applies them, fire from here into the broker.
		scheduler := pingsource.NewScheduler(env.broker.PublishAs, f.logger.With("component", "pingsource"))
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			_ = scheduler.Run(ctx)
		}()
		schedules := &devSchedules{scheduler: scheduler, broker: "default", logger: f.logger.With("component", "cron")}
		if external != "" {
			// A controller of its own process finds no PingSource kind in
			// this API (it serves zeroflow's only) and leaves the
			// schedules to the stack, which watches as it would.
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				if err := controller.WatchSchedules(ctx, client, "", schedules, f.logger.With("component", "cron")); err != nil && ctx.Err() == nil {
					f.errs <- fmt.Errorf("cron schedules: %w", err)
				}
			}()
			return nil
		}
		var tokenKey []byte
		if f.ids != nil {
			if tokenKey, err = controller.LoadOrCreateTokenKey(filepath.Join(f.ids.dir, TokenKeyFile)); err != nil {
				return err
			}
		}
		leases, err := controller.NewLeases(env.api.Config())
		if err != nil {
			return err
		}
		c, err := controller.New(controller.Config{
			// The stack's controller leads on the Lease `zeroflow
			// controller` processes pointed at this API campaign for, so
			// that only one of them runs the watch and the resync. Its
			// identity is fixed: the stack restarted holds its own Lease
			// at once instead of waiting it out.
			LeaderElection:    &controller.LeaderElection{Leases: leases, Namespace: DefaultNamespace, Identity: "zeroflow-dev"},
			TokenKey:          tokenKey,
			Client:            client,
			Send:              env.publish,
			Logger:            f.logger.With("component", "controller"),
			HeartbeatInterval: rt.liveness.HeartbeatInterval,
			LostAfter:         rt.liveness.LostAfter,
			StartTimeout:      rt.liveness.StartTimeout,
			// Often, so that a lost step is found soon after LostAfter.
			ResyncPeriod: resyncPeriod(rt.liveness),
			Metrics:      f.registry,
			Schedules:    schedules,
			// A submit's large arguments go where the steps read them.
			Artifacts: rt.store,
		})
		if err != nil {
			return err
		}
		rt.controller = c
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			if err := c.Run(ctx); err != nil && ctx.Err() == nil {
				f.errs <- fmt.Errorf("controller: %w", err)
			}
		}()
		sink := env.broker.Address(DefaultNamespace, "default")
		// The controller keeps its watch and timers, so it does not scale
		// to zero; it serves its events like any function.
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			auth, token := f.ids.serveOptions(DefaultNamespace, render.ControllerService, render.ControllerServiceAccount, "default")
			if err := sdk.Serve(ctx, c, sdk.Options{Listener: cl, Sink: sink, Auth: auth, Token: token, Logger: f.logger.With("component", "controller"), DrainTimeout: 10 * time.Second, Offload: env.offload}); err != nil {
				f.errs <- fmt.Errorf("controller: %w", err)
			}
		}()
		return nil
	})
	f.pending = append(f.pending, func(ctx context.Context, env *runEnv) error {
		sink := env.broker.Address(DefaultNamespace, "default")
		store := rt.store
		for _, b := range builtins {
			var h sdk.Handler
			switch b.name {
			case engine.FunctionExec:
				h = exec.New(exec.Options{Artifacts: store, Secrets: f.secrets})
			case engine.FunctionHTTP:
				h = zfhttp.New(zfhttp.Options{Artifacts: store, Secrets: f.secrets, Hosts: rt.hosts})
			case engine.FunctionResource:
				h = resource.New(resource.Options{Dynamic: env.dynamic, Mapper: env.mapper, Artifacts: store})
			case render.ArchiveFunction:
				h = archive.New(store)
			case render.DeadLetterFunction:
				h = deadletter.New(store)
			default:
				return fmt.Errorf("no built-in function %q", b.name)
			}
			step := b.name != render.ArchiveFunction && b.name != render.DeadLetterFunction
			f.runHandler(ctx, nil, DefaultNamespace, render.BuiltinService(b.name), render.BuiltinService(b.name), "default", b.l, h, sink, scale{step: step})
		}
		for _, u := range users {
			target, minScale, maxScale := scalingOf(u.svc.svc)
			ns := namespaceOr(u.svc.svc.Namespace)
			idEnv, err := f.ids.processEnv(ctx, ns, u.svc.svc.Name, serviceAccountOf(u.svc.svc), "default")
			if err != nil {
				return err
			}
			env := append([]string{"K_SINK=" + sink, sdk.EnvArtifacts + "=" + rt.artifacts, "K_SERVICE=" + u.svc.svc.Name}, idEnv...)
			for _, c := range u.svc.svc.Spec.Template.Spec.Containers {
				for _, e := range c.Env {
					env = append(env, e.Name+"="+e.Value)
				}
			}
			start := funcrunner.Process(funcrunner.ProcessConfig{Path: u.svc.binary, Env: env, Output: logWriter{f.logger.With("function", u.svc.svc.Name)}, DrainTimeout: 10 * time.Second})
			f.run(ctx, nil, u.svc.svc.Name, u.l, start, scale{target: target, min: minScale, max: maxScale, step: called[u.svc.svc.Name]})
		}
		return nil
	})
	return nil
}

// scalingOf reads a Service's autoscaling annotations and
// containerConcurrency (a hard limit that also sets the target).
func scalingOf(svc *servingv1.Service) (target, minScale, maxScale int) {
	ann := svc.Spec.Template.Annotations
	atoi := func(k string) int {
		v, err := strconv.ParseFloat(ann[k], 64)
		if err != nil {
			return 0
		}
		return int(v)
	}
	target, minScale, maxScale = atoi(annotationTarget), atoi(annotationMinScale), atoi(annotationMaxScale)
	if cc := svc.Spec.Template.Spec.ContainerConcurrency; cc != nil && *cc > 0 && (target == 0 || int(*cc) < target) {
		target = int(*cc)
	}
	return target, minScale, maxScale
}

func splitRef(ref string) (string, string) {
	if ns, name, ok := strings.Cut(ref, "/"); ok {
		return ns, name
	}
	return DefaultNamespace, ref
}

// offload is the stack's artifact store as the place for events and values
// above the offload threshold, with the limits the environment sets
// ($ZEROFLOW_OFFLOAD_THRESHOLD, $ZEROFLOW_MAX_OFFLOADED_VALUE) or the
// defaults: a bad value was reported when the stack started.
func (rt *workflowRuntime) offload() sdk.EventOffload {
	limits, _ := sdk.OffloadLimitsFromEnv()
	return sdk.EventOffload{Store: rt.store, Limits: limits}
}
