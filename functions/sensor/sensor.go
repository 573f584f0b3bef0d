// Package sensor is the sensor function: it takes the dependency events
// that the filter function sends, evaluates each trigger's conditions and
// fires its triggers, with Argo Events' semantics. It scales to zero, so
// the partial state of conditions that need several events is kept in the
// Sensor's status, where it is visible, and written with optimistic
// concurrency so that several instances can serve one sensor.
//
// Delivery is at least once by default: the sensor answers the broker only
// after the triggers of an event ran, so that a failure is redelivered.
package sensor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/dynamic"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/functions/sensor/trigger"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

// Config is what a sensor needs from its surroundings.
type Config struct {
	// Sensor is the sensor to run; its status is kept up to date in the
	// API through Dynamic.
	Sensor *v1alpha1.Sensor
	// Dynamic and Mapper reach the Kubernetes API: the sensor's status,
	// and the objects of k8s and workflow triggers.
	Dynamic dynamic.Interface
	Mapper  meta.RESTMapper
	// Send delivers an event to the sensor's broker and returns once the
	// broker accepted it.
	Send    func(ctx context.Context, ev event.Event) error
	Secrets secrets.Resolver
	HTTP    *http.Client
	Logger  *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Offload is the artifact store and limits: for the data of events
	// that wait in the status, and for workflow argument values above
	// the threshold. Nil reads the environment (sdk.EventOffloadFromEnv).
	Offload *sdk.EventOffload
	// AllowNamespaces widens where the sensor's k8s and workflow
	// triggers may act, a cluster admin's choice (never the Sensor's
	// own spec): by default only in the sensor's namespace, and never on
	// a cluster-scoped object. "*" allows any namespace and
	// cluster-scoped objects.
	AllowNamespaces []string
}

// Sensor runs one Sensor.
type Sensor struct {
	spec     *v1alpha1.Sensor
	triggers []*compiledTrigger
	// byDependency lists the triggers whose conditions name a dependency.
	byDependency map[string][]*compiledTrigger
	env          *trigger.Env
	store        *store
	now          func() time.Time
	log          *slog.Logger
	recent       *recentEvents
	offload      sdk.EventOffload

	// mu serializes the stateful part of event handling in this instance,
	// so that its own events do not conflict with each other; instances
	// still race, and optimistic concurrency settles that.
	mu sync.Mutex
	// runners caches the runners of triggers without trigger-level
	// parameters (which build theirs per firing).
	runners map[*v1alpha1.TriggerTemplate]trigger.Runner
}

// New checks the sensor and prepares it to take events. An invalid sensor
// is refused with every problem and its field path.
func New(ctx context.Context, cfg Config) (*Sensor, error) {
	sn := cfg.Sensor
	if errs := Validate(sn); len(errs) > 0 {
		return nil, fmt.Errorf("sensor %s/%s is invalid: %w", sn.Namespace, sn.Name, errs.ToAggregate())
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Secrets == nil {
		cfg.Secrets = secrets.Local{}
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{}
	}
	if cfg.Send == nil {
		cfg.Send = sdk.NewSender("").Send
	}
	if cfg.Offload == nil {
		o, err := sdk.EventOffloadFromEnv()
		if err != nil {
			return nil, fmt.Errorf("sensor %s/%s: %w", sn.Namespace, sn.Name, err)
		}
		cfg.Offload = &o
	}
	log := cfg.Logger.With("sensor", sn.Namespace+"/"+sn.Name)
	for k, v := range sn.Spec.LoggingFields {
		log = log.With(k, v)
	}
	s := &Sensor{
		spec:         sn,
		byDependency: map[string][]*compiledTrigger{},
		env:          &trigger.Env{Sensor: sn, Dynamic: cfg.Dynamic, Mapper: cfg.Mapper, Send: cfg.Send, Secrets: cfg.Secrets, HTTP: cfg.HTTP, Logger: log, AllowNamespaces: cfg.AllowNamespaces, Offload: *cfg.Offload},
		offload:      *cfg.Offload,
		now:          cfg.Now,
		log:          log,
		recent:       newRecentEvents(4096),
		runners:      map[*v1alpha1.TriggerTemplate]trigger.Runner{},
	}
	var allDeps []string
	for _, d := range sn.Spec.Dependencies {
		allDeps = append(allDeps, d.Name)
	}
	for i := range sn.Spec.Triggers {
		t := &sn.Spec.Triggers[i]
		c, err := compileTrigger(t, allDeps)
		if err != nil {
			return nil, fmt.Errorf("sensor %s/%s: %w", sn.Namespace, sn.Name, err)
		}
		for _, ct := range []*compiledTrigger{c, c.dlq} {
			if ct == nil || len(ct.spec.Parameters) > 0 {
				continue
			}
			r, err := trigger.New(ct.spec.Template, ct.spec.Policy, s.env)
			if err != nil {
				return nil, fmt.Errorf("sensor %s/%s: %w", sn.Namespace, sn.Name, err)
			}
			s.runners[ct.spec.Template] = r
		}
		s.triggers = append(s.triggers, c)
		for d := range c.deps {
			s.byDependency[d] = append(s.byDependency[d], c)
		}
		if !c.stateless && cfg.Dynamic == nil {
			return nil, fmt.Errorf("sensor %s/%s: trigger %s waits for several events and needs the Kubernetes API to remember them", sn.Namespace, sn.Name, c.name)
		}
	}
	if cfg.Dynamic != nil {
		s.store = newStore(cfg.Dynamic, sn)
		if err := s.tidy(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Handle takes one dependency event.
func (s *Sensor) Handle(ctx context.Context, ev event.Event) (*event.Event, error) {
	dep, matched, err := s.decode(ev)
	if err != nil {
		return nil, sdk.Status(http.StatusBadRequest, err)
	}
	triggers := s.byDependency[dep]
	if len(triggers) == 0 {
		s.log.DebugContext(ctx, "no trigger waits for this dependency", "dependency", dep)
		return nil, nil
	}
	in := arrival{dependency: dep, event: matched, key: eventKey(matched), at: s.now()}
	errs := make([]error, len(triggers))
	var wg sync.WaitGroup
	for i, t := range triggers {
		if !t.spec.IsAtLeastOnce() {
			// At most once, as Argo's default: answer now, run behind.
			go func() {
				if err := s.process(context.WithoutCancel(ctx), t, in); err != nil {
					s.log.ErrorContext(ctx, "trigger failed", "trigger", t.name, "error", err)
				}
			}()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.process(ctx, t, in)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if allPermanent(errs) {
			// Redelivery cannot help; the broker passes the event to its
			// dead-letter sink, if it has one.
			return nil, sdk.Status(http.StatusUnprocessableEntity, err)
		}
		return nil, err
	}
	return nil, nil
}

func allPermanent(errs []error) bool {
	for _, err := range errs {
		if err != nil && !trigger.IsPermanent(err) {
			return false
		}
	}
	return true
}

// decode checks that the event is a dependency event for this sensor and
// returns the dependency and the event that matched it.
func (s *Sensor) decode(ev event.Event) (string, event.Event, error) {
	if ev.Type() != events.TypeDependency {
		return "", event.Event{}, fmt.Errorf("sensor %s takes %s events from its filter, not %q", s.spec.Name, events.TypeDependency, ev.Type())
	}
	if got := events.Extension(ev, events.ExtSensor); got != s.spec.Name {
		return "", event.Event{}, fmt.Errorf("event %s is for sensor %q, this is %q", ev.ID(), got, s.spec.Name)
	}
	if ns := events.Extension(ev, events.ExtNamespace); ns != "" && ns != s.spec.Namespace {
		return "", event.Event{}, fmt.Errorf("event %s is for namespace %q, this sensor is in %q", ev.ID(), ns, s.spec.Namespace)
	}
	dep := events.Extension(ev, events.ExtDependency)
	known := false
	for _, d := range s.spec.Spec.Dependencies {
		known = known || d.Name == dep
	}
	if !known {
		return "", event.Event{}, fmt.Errorf("event %s names dependency %q, which sensor %s does not have", ev.ID(), dep, s.spec.Name)
	}
	var data events.Dependency
	if err := ev.DataAs(&data); err != nil {
		return "", event.Event{}, fmt.Errorf("event %s: data is not a dependency: %w", ev.ID(), err)
	}
	matched, err := data.Matched()
	if err != nil {
		return "", event.Event{}, fmt.Errorf("event %s: %w", ev.ID(), err)
	}
	return dep, matched, nil
}
