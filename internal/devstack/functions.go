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
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/broker"
	"github.com/zeroflow-dev/zeroflow/functions/filter"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/functions/sensor"
	"github.com/zeroflow-dev/zeroflow/functions/webhook"
	"github.com/zeroflow-dev/zeroflow/internal/kubeapi"
	"github.com/zeroflow-dev/zeroflow/internal/manifestfile"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
	"github.com/zeroflow-dev/zeroflow/render"
)

// functions are the EventSource and Sensor functions the stack runs on
// loopback, and the Triggers that route to them.
type functions struct {
	host     string
	logger   *slog.Logger
	secrets  secrets.Resolver
	triggers []eventingv1.Trigger
	// endpoints lists, for people, where each function listens.
	endpoints []string
	// pending are the functions to start once the broker and API run.
	pending []func(ctx context.Context, env *runEnv) error

	listeners []net.Listener
	wg        sync.WaitGroup
	errs      chan error
}

// runEnv is what functions need once the stack is up.
type runEnv struct {
	api    *kubeapi.Server
	broker *broker.Broker
}

// planFunctions opens the listeners of every function of objs and renders
// the Triggers that route to them; nothing serves until start.
func planFunctions(objs []manifestfile.Object, host string, sec secrets.Resolver, logger *slog.Logger) (_ *functions, err error) {
	f := &functions{host: host, logger: logger, secrets: sec, errs: make(chan error, 64)}
	defer func() {
		if err != nil {
			f.closeListeners()
		}
	}()
	listen := func(addr string) (net.Listener, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		f.listeners = append(f.listeners, l)
		return l, nil
	}
	for _, o := range objs {
		switch v := o.Value.(type) {
		case *v1alpha1.EventSource:
			if err := f.planEventSource(withNamespace(v), listen); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", o.Document.Source(), o.Document.Ref(), err)
			}
		case *v1alpha1.Sensor:
			if err := f.planSensor(withNamespace(v), listen); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", o.Document.Source(), o.Document.Ref(), err)
			}
		}
	}
	return f, nil
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
// the EventSource's pod would in Argo.
func (f *functions) planEventSource(es *v1alpha1.EventSource, listen func(string) (net.Listener, error)) error {
	ports := map[string]bool{}
	for name, w := range es.Spec.Webhook {
		ports[w.Port] = true
		f.endpoints = append(f.endpoints, fmt.Sprintf("webhook  %s/%s %s http://%s%s", es.Name, name, w.Method, net.JoinHostPort(f.host, w.Port), w.Endpoint))
	}
	byPort := map[string]net.Listener{}
	for port := range ports {
		l, err := listen(net.JoinHostPort(f.host, port))
		if err != nil {
			return fmt.Errorf("webhook port %s: %w", port, err)
		}
		byPort[port] = l
	}
	f.pending = append(f.pending, func(ctx context.Context, env *runEnv) error {
		// In one process the webhook hands events to the broker directly;
		// on a cluster it POSTs them to the broker's ingress.
		send := func(ctx context.Context, ev event.Event) error {
			return env.broker.Publish(ctx, es.Namespace, es.Spec.BrokerName(), ev)
		}
		w, err := webhook.New(es, webhook.Options{Send: send, Secrets: f.secrets, Logger: f.logger})
		if err != nil {
			return err
		}
		for port, h := range w.PortHandlers() {
			f.serveHTTP(ctx, "eventsource "+es.Name+" port "+port, h, byPort[port])
		}
		return nil
	})
	return nil
}

// planSensor listens for the sensor's filter and sensor functions and
// routes the sensor's events to them.
func (f *functions) planSensor(s *v1alpha1.Sensor, listen func(string) (net.Listener, error)) error {
	fl, err := listen(net.JoinHostPort(f.host, "0"))
	if err != nil {
		return err
	}
	sl, err := listen(net.JoinHostPort(f.host, "0"))
	if err != nil {
		return err
	}
	filterURL, _ := apis.ParseURL("http://" + fl.Addr().String())
	sensorURL, _ := apis.ParseURL("http://" + sl.Addr().String())
	f.triggers = append(f.triggers, render.SensorTriggers(s, filterURL, sensorURL)...)
	f.endpoints = append(f.endpoints, fmt.Sprintf("sensor   %s/%s (filter %s, sensor %s)", s.Namespace, s.Name, filterURL, sensorURL))
	f.pending = append(f.pending, func(ctx context.Context, env *runEnv) error {
		fn, err := filter.NewFunction(s, f.logger)
		if err != nil {
			return err
		}
		sink := env.broker.Address(s.Namespace, s.Spec.BrokerName())
		f.serveFunction(ctx, "filter "+s.Name, fn, fl, sink)
		cfg := env.api.Config()
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			return err
		}
		disco, err := discovery.NewDiscoveryClientForConfig(cfg)
		if err != nil {
			return err
		}
		sn, err := sensor.New(ctx, sensor.Config{
			Sensor:  s,
			Dynamic: dyn,
			Mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco)),
			Send:    sdk.NewSender(sink).Send,
			Secrets: f.secrets,
			Logger:  f.logger,
		})
		if err != nil {
			return err
		}
		f.serveFunction(ctx, "sensor "+s.Name, sn, sl, sink)
		return nil
	})
	return nil
}

func (f *functions) serveFunction(ctx context.Context, name string, h sdk.Handler, l net.Listener, sink string) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		if err := sdk.Serve(ctx, h, sdk.Options{Listener: l, Sink: sink, Logger: f.logger.With("function", name), DrainTimeout: 10 * time.Second}); err != nil {
			f.errs <- fmt.Errorf("%s: %w", name, err)
		}
	}()
}

func (f *functions) serveHTTP(ctx context.Context, name string, h http.Handler, l net.Listener) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		if err := sdk.ServeHTTP(ctx, h, sdk.Options{Listener: l, Logger: f.logger.With("function", name), DrainTimeout: 10 * time.Second}); err != nil {
			f.errs <- fmt.Errorf("%s: %w", name, err)
		}
	}()
}

// start serves every planned function until ctx ends.
func (f *functions) start(ctx context.Context, env *runEnv) error {
	var errs []error
	for _, p := range f.pending {
		errs = append(errs, p(ctx, env))
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
}

// wait waits for the functions to drain and returns their errors.
func (f *functions) wait() error {
	f.wg.Wait()
	f.closeListeners()
	close(f.errs)
	var errs []error
	for err := range f.errs {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
