// Package pingsource runs Knative PingSources in zeroflow dev: on each
// schedule it sends the event Knative's ping adapter would send (type
// dev.knative.sources.ping, source /apis/v1/namespaces/NS/pingsources/NAME,
// the spec's data and CloudEvent overrides) to the broker its sink names.
package pingsource

import (
	"github.com/zeroflow-dev/zeroflow/internal/identity"

	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/robfig/cron/v3"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
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
	var crons []*cron.Cron
	for i := range sources {
		src := &sources[i]
		ref := src.Spec.Sink.Ref
		if ref == nil || ref.Kind != "Broker" {
			return fmt.Errorf("pingsource %s/%s: zeroflow dev sends only to a Broker ref", src.Namespace, src.Name)
		}
		ns := ref.Namespace
		if ns == "" {
			ns = src.Namespace
		}
		loc := time.UTC
		if tz := src.Spec.Timezone; tz != "" {
			var err error
			if loc, err = time.LoadLocation(tz); err != nil {
				return fmt.Errorf("pingsource %s/%s: timezone %q: %w", src.Namespace, src.Name, tz, err)
			}
		}
		c := cron.New(cron.WithLocation(loc), cron.WithParser(v1alpha1.CronParser))
		if _, err := c.AddFunc(src.Spec.Schedule, func() {
			ev, err := Event(src, time.Now().Truncate(time.Second))
			if err == nil {
				err = publish(ctx, identity.ResourceSubject(sourcesv1.SchemeGroupVersion.WithKind("PingSource"), src.Namespace, src.Name), ns, ref.Name, ev)
			}
			if err != nil {
				logger.ErrorContext(ctx, "pingsource firing failed", "pingsource", src.Namespace+"/"+src.Name, "error", err)
				return
			}
			logger.DebugContext(ctx, "pingsource fired", "pingsource", src.Namespace+"/"+src.Name, "id", ev.ID())
		}); err != nil {
			return fmt.Errorf("pingsource %s/%s: schedule %q: %w", src.Namespace, src.Name, src.Spec.Schedule, err)
		}
		crons = append(crons, c)
	}
	for _, c := range crons {
		c.Start()
	}
	<-ctx.Done()
	for _, c := range crons {
		<-c.Stop().Done()
	}
	return nil
}
