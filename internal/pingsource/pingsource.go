// Package pingsource runs Knative PingSources in zeroflow dev: on each
// schedule it sends the event Knative's ping adapter would send (type
// dev.knative.sources.ping, source /apis/v1/namespaces/NS/pingsources/NAME,
// the spec's data and CloudEvent overrides) to the broker its sink names.
package pingsource

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/api/equality"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/identity"
)

// Publish hands an event to the broker namespace/name, as sent by sender
// (the PingSource's OIDC identity, as Knative's adapter sends with it).
type Publish func(ctx context.Context, sender, namespace, broker string, ev event.Event) error

// Source returns the CloudEvent source Knative gives a PingSource's events.
func Source(src *sourcesv1.PingSource) string {
	return fmt.Sprintf("/apis/v1/namespaces/%s/pingsources/%s", src.Namespace, src.Name)
}

// Event is the event src sends when it fires at t.
func Event(src *sourcesv1.PingSource, t time.Time) (event.Event, error) {
	ev := event.New()
	ev.SetID(uuid.NewString())
	ev.SetType(events.TypeKnativePing)
	ev.SetSource(Source(src))
	ev.SetTime(t)
	if o := src.Spec.CloudEventOverrides; o != nil {
		for k, v := range o.Extensions {
			ev.SetExtension(k, v)
		}
	}
	contentType := src.Spec.ContentType
	if contentType == "" {
		contentType = event.TextPlain
	}
	switch {
	case src.Spec.DataBase64 != "":
		b, err := base64.StdEncoding.DecodeString(src.Spec.DataBase64)
		if err != nil {
			return ev, fmt.Errorf("pingsource %s/%s: dataBase64: %w", src.Namespace, src.Name, err)
		}
		if err := ev.SetData(contentType, b); err != nil {
			return ev, err
		}
	case src.Spec.Data != "":
		if err := ev.SetData(contentType, []byte(src.Spec.Data)); err != nil {
			return ev, err
		}
	}
	return ev, nil
}

// Run fires every source on its schedule until ctx ends. A source whose
// sink is not a Broker, or whose schedule or time zone does not parse, is
// an error before anything runs.
func Run(ctx context.Context, sources []sourcesv1.PingSource, publish Publish, logger *slog.Logger) error {
	s := NewScheduler(publish, logger)
	if err := s.Apply("", sources); err != nil {
		return err
	}
	return s.Run(ctx)
}

// Scheduler fires PingSources that come and go while it runs: the
// PingSources of CronWorkflows, which the controller's watch hands it as
// they are created, changed and deleted through the API. Each set is
// kept under a key (the CronWorkflow's namespace/name) and replaced whole.
type Scheduler struct {
	cron    *cron.Cron
	publish Publish
	logger  *slog.Logger
	mu      sync.Mutex
	// ctx is the context of Run, which the firings publish under (they
	// run on the cron's goroutines, which Run starts).
	ctx  context.Context
	sets map[string][]entry
}

// entry is one PingSource as scheduled.
type entry struct {
	src sourcesv1.PingSource
	id  cron.EntryID
}

// NewScheduler returns a Scheduler that publishes with publish once Run
// runs.
func NewScheduler(publish Publish, logger *slog.Logger) *Scheduler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{
		// Time zones are per schedule (sched), so the cron's own is only
		// the clock's.
		cron:    cron.New(cron.WithLocation(time.UTC)),
		publish: publish,
		logger:  logger,
		sets:    map[string][]entry{},
	}
}

// Run fires the scheduled PingSources until ctx ends, then waits for the
// firings under way.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	s.cron.Start()
	<-ctx.Done()
	<-s.cron.Stop().Done()
	return nil
}

// Apply makes key's PingSources sources, from now on: those no longer in
// it stop, new ones start, and unchanged ones keep their schedule. Every
// source is checked first: one that cannot run (sink not a Broker,
// schedule or time zone that does not parse) changes nothing.
func (s *Scheduler) Apply(key string, sources []sourcesv1.PingSource) error {
	scheds := make([]cron.Schedule, len(sources))
	for i := range sources {
		sched, err := schedule(&sources[i])
		if err != nil {
			return err
		}
		scheds[i] = sched
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.sets[key]
	next := make([]entry, 0, len(sources))
	kept := map[cron.EntryID]bool{}
	for i := range sources {
		src := sources[i]
		if e, ok := findEntry(old, &src); ok {
			next = append(next, e)
			kept[e.id] = true
			continue
		}
		next = append(next, entry{src: src, id: s.cron.Schedule(scheds[i], cron.FuncJob(func() { s.fire(&src) }))})
	}
	for _, e := range old {
		if !kept[e.id] {
			s.cron.Remove(e.id)
		}
	}
	if len(next) == 0 {
		delete(s.sets, key)
	} else {
		s.sets[key] = next
	}
	return nil
}

// Remove stops key's PingSources.
func (s *Scheduler) Remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.sets[key] {
		s.cron.Remove(e.id)
	}
	delete(s.sets, key)
}

// Scheduled lists the PingSources scheduled under key.
func (s *Scheduler) Scheduled(key string) []sourcesv1.PingSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]sourcesv1.PingSource, 0, len(s.sets[key]))
	for _, e := range s.sets[key] {
		out = append(out, *e.src.DeepCopy())
	}
	return out
}

// findEntry finds src, unchanged, among entries.
func findEntry(entries []entry, src *sourcesv1.PingSource) (entry, bool) {
	for _, e := range entries {
		if e.src.Namespace == src.Namespace && e.src.Name == src.Name && equality.Semantic.DeepEqual(e.src.Spec, src.Spec) {
			return e, true
		}
	}
	return entry{}, false
}

// schedule is src's schedule in its time zone; it also checks that src
// sends to a Broker, the only sink zeroflow dev serves.
func schedule(src *sourcesv1.PingSource) (cron.Schedule, error) {
	ref := src.Spec.Sink.Ref
	if ref == nil || ref.Kind != "Broker" {
		return nil, fmt.Errorf("pingsource %s/%s: zeroflow dev sends only to a Broker ref", src.Namespace, src.Name)
	}
	loc := time.UTC
	if tz := src.Spec.Timezone; tz != "" {
		var err error
		if loc, err = time.LoadLocation(tz); err != nil {
			return nil, fmt.Errorf("pingsource %s/%s: timezone %q: %w", src.Namespace, src.Name, tz, err)
		}
	}
	sched, err := v1alpha1.CronParser.Parse(src.Spec.Schedule)
	if err != nil {
		return nil, fmt.Errorf("pingsource %s/%s: schedule %q: %w", src.Namespace, src.Name, src.Spec.Schedule, err)
	}
	if spec, ok := sched.(*cron.SpecSchedule); ok && src.Spec.Timezone != "" {
		spec.Location = loc
	}
	return sched, nil
}

// fire sends src's event for now to the broker its sink names, as the
// PingSource's OIDC identity.
func (s *Scheduler) fire(src *sourcesv1.PingSource) {
	s.mu.Lock()
	ctx := s.ctx
	s.mu.Unlock()
	ref := src.Spec.Sink.Ref
	ns := ref.Namespace
	if ns == "" {
		ns = src.Namespace
	}
	ev, err := Event(src, time.Now().Truncate(time.Second))
	if err == nil {
		err = s.publish(ctx, identity.ResourceSubject(sourcesv1.SchemeGroupVersion.WithKind("PingSource"), src.Namespace, src.Name), ns, ref.Name, ev)
	}
	if err != nil {
		s.logger.ErrorContext(ctx, "pingsource firing failed", "pingsource", src.Namespace+"/"+src.Name, "error", err)
		return
	}
	s.logger.DebugContext(ctx, "pingsource fired", "pingsource", src.Namespace+"/"+src.Name, "id", ev.ID())
}
