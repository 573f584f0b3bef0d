package events

import (
	"encoding/json"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Dependency is the data of a dev.zeroflow.dependency event: the event that
// passed a dependency's filters, whole, in the CloudEvents JSON format
// (attributes, extensions and data), so that the sensor's parameters see
// exactly what the source sent.
type Dependency struct {
	Event json.RawMessage `json:"event"`
}

// NewDependency wraps a matched event.
func NewDependency(ev event.Event) (Dependency, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return Dependency{}, fmt.Errorf("encode matched event %s: %w", ev.ID(), err)
	}
	return Dependency{Event: b}, nil
}

// Matched returns the event that matched.
func (d Dependency) Matched() (event.Event, error) {
	ev := event.New()
	if err := json.Unmarshal(d.Event, &ev); err != nil {
		return ev, fmt.Errorf("decode matched event: %w", err)
	}
	if err := ev.Validate(); err != nil {
		return ev, fmt.Errorf("decode matched event: %w", err)
	}
	return ev, nil
}
