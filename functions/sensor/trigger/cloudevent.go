package trigger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/functions/sensor/params"
)

// cloudEventRunner sends a CloudEvent to the broker or to a URL. Argo has
// no such trigger; it is the natural one on a Knative Broker.
type cloudEventRunner struct {
	name string
	spec *v1alpha1.CloudEventTrigger
	deps []string
	env  *Env
	url  *sdk.Sender
}

func newCloudEvent(tt *v1alpha1.TriggerTemplate, env *Env) Runner {
	r := &cloudEventRunner{name: tt.Name, spec: tt.CloudEvent, env: env}
	for _, d := range env.Sensor.Spec.Dependencies {
		r.deps = append(r.deps, d.Name)
	}
	if tt.CloudEvent.URL != "" {
		r.url = sdk.NewSender(tt.CloudEvent.URL)
	}
	return r
}

func (r *cloudEventRunner) Run(ctx context.Context, f Firing) error {
	ev := event.New()
	// The same firing gives the same id, so that a receiver can drop a
	// redelivery.
	sum := sha256.Sum256([]byte(SensorSource(r.env.Sensor) + "\x00" + r.name + "\x00" + f.Key))
	ev.SetID(hex.EncodeToString(sum[:16]))
	ev.SetType(r.spec.Type)
	source := r.spec.Source
	if source == "" {
		source = SensorSource(r.env.Sensor)
	}
	ev.SetSource(source)
	if r.spec.Subject != "" {
		ev.SetSubject(r.spec.Subject)
	}
	for k, v := range r.spec.Extensions {
		ev.SetExtension(k, v)
	}
	if len(r.spec.Payload) > 0 {
		body, err := params.Payload(r.spec.Payload, f.Events)
		if err != nil {
			return Permanent(fmt.Errorf("cloudEvent trigger %s: %w", r.name, err))
		}
		if err := ev.SetData(event.ApplicationJSON, body); err != nil {
			return Permanent(fmt.Errorf("cloudEvent trigger %s: %w", r.name, err))
		}
	} else if first, ok := r.firstEvent(f); ok && first.Data() != nil {
		ev.SetDataContentType(first.DataContentType())
		ev.DataEncoded = first.Data()
	}
	send := r.env.Send
	if r.url != nil {
		send = r.url.Send
	}
	if err := send(ctx, ev); err != nil {
		return classifySendError(fmt.Errorf("cloudEvent trigger %s: %w", r.name, err))
	}
	r.env.Logger.InfoContext(ctx, "cloudevent sent", "trigger", r.name, "type", r.spec.Type, "id", ev.ID())
	return nil
}

// firstEvent is the event of the first dependency, in the sensor's order,
// that fired.
func (r *cloudEventRunner) firstEvent(f Firing) (event.Event, bool) {
	for _, d := range r.deps {
		if ev, ok := f.Events[d]; ok {
			return ev, true
		}
	}
	return event.Event{}, false
}
