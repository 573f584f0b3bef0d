package filter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// Function is the filter function of one Sensor. Each dependency has a
// Knative Trigger that delivers its events to the path /<dependency>; an
// event that passes the dependency's filters is answered with a
// dev.zeroflow.dependency event, which the broker routes to the sensor.
// It keeps no state, so it scales freely.
type Function struct {
	sensor *v1alpha1.Sensor
	deps   map[string]*dependency
	log    *slog.Logger
}

type dependency struct {
	spec    *v1alpha1.EventDependency
	filters *Compiled
}

// NewFunction compiles the filters of every dependency of s.
func NewFunction(s *v1alpha1.Sensor, log *slog.Logger) (*Function, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Function{sensor: s, deps: map[string]*dependency{}, log: log.With("sensor", s.Namespace+"/"+s.Name)}
	for i := range s.Spec.Dependencies {
		d := &s.Spec.Dependencies[i]
		c, err := Compile(d)
		if err != nil {
			return nil, fmt.Errorf("sensor %s/%s: dependency %s: %w", s.Namespace, s.Name, d.Name, err)
		}
		f.deps[d.Name] = &dependency{spec: d, filters: c}
	}
	return f, nil
}

// DependencyPath is the path the filter function takes a dependency's
// events on.
func DependencyPath(dependency string) string { return "/" + dependency }

// Handle filters one event for the dependency its path names.
func (f *Function) Handle(ctx context.Context, ev event.Event) (*event.Event, error) {
	name := strings.Trim(sdk.RequestPath(ctx), "/")
	d, ok := f.deps[name]
	if !ok {
		// 400 and not 404: a broker retries a 404, and a Trigger whose
		// subscriber names no dependency is wrong on every delivery.
		return nil, sdk.Status(http.StatusBadRequest, fmt.Errorf("sensor %s has no dependency %q; the path of the Trigger's subscriber names the dependency", f.sensor.Name, name))
	}
	if !d.routes(ev) {
		f.log.DebugContext(ctx, "event is not from this dependency's event source", "dependency", name, "source", ev.Source(), "subject", ev.Subject())
		return nil, nil
	}
	pass, err := d.filters.Match(ev)
	if !pass {
		f.log.DebugContext(ctx, "event filtered out", "dependency", name, "event", ev.ID(), "reason", err)
		return nil, nil
	}
	out, err := Dependency(f.sensor, name, ev)
	if err != nil {
		return nil, sdk.Status(http.StatusBadRequest, err)
	}
	return &out, nil
}

// routes reports whether the event comes from the dependency's EventSource
// and event: by the routing extensions a zeroflow source sets, else, for
// an event some other source put on the broker, by Argo's mapping of
// source and subject.
func (d *dependency) routes(ev event.Event) bool {
	ext := ev.Extensions()
	if es, ok := ext[events.ExtEventSource].(string); ok {
		name, _ := ext[events.ExtEvent].(string)
		return es == d.spec.EventSourceName && name == d.spec.EventName
	}
	return ev.Source() == d.spec.EventSourceName && ev.Subject() == d.spec.EventName
}

// Dependency makes the dependency event for a matched event. Its id is
// derived from the sensor, the dependency and the matched event, so a
// redelivered event makes the same dependency event.
func Dependency(s *v1alpha1.Sensor, dependency string, matched event.Event) (event.Event, error) {
	data, err := events.NewDependency(matched)
	if err != nil {
		return event.Event{}, err
	}
	sum := sha256.Sum256([]byte(s.Namespace + "\x00" + s.Name + "\x00" + dependency + "\x00" + matched.Source() + "\x00" + matched.ID()))
	out := event.New()
	out.SetID(hex.EncodeToString(sum[:16]))
	out.SetType(events.TypeDependency)
	out.SetSource("/zeroflow/filter/" + s.Namespace + "/" + s.Name)
	out.SetSubject(dependency)
	if !matched.Time().IsZero() {
		out.SetTime(matched.Time())
	}
	out.SetExtension(events.ExtSensor, s.Name)
	out.SetExtension(events.ExtNamespace, s.Namespace)
	out.SetExtension(events.ExtDependency, dependency)
	if err := out.SetData(event.ApplicationJSON, data); err != nil {
		return event.Event{}, fmt.Errorf("encode dependency event: %w", err)
	}
	return out, nil
}
