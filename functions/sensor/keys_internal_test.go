package sensor

import (
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sensor/trigger"
)

// A firing's submit id is its events' own: the same event (source and id)
// gives the same key in a sensor started afresh, so a submit repeated
// after a restart (past the broker's two-minute window) names the same
// workflow, which the controller creates once; another event gives
// another.
func TestSubmitIDIsTheFiringsOwn(t *testing.T) {
	s := &v1alpha1.Sensor{}
	s.Namespace, s.Name = "default", "submit"
	ev := func(source, id string) event.Event {
		e := event.New()
		e.SetSource(source)
		e.SetID(id)
		return e
	}
	submit := func(e event.Event) string {
		return trigger.SubmitID(s, "workflow-a", firingKey(map[string]string{"hook": eventKey(e)}))
	}
	first := submit(ev("workflow-a-webhook", "req-1"))
	if again := submit(ev("workflow-a-webhook", "req-1")); again != first {
		t.Errorf("the same event: %s, then %s", first, again)
	}
	for _, other := range []event.Event{ev("workflow-a-webhook", "req-2"), ev("other-webhook", "req-1")} {
		if id := submit(other); id == first {
			t.Errorf("event %s/%s has the submit id of req-1: %s", other.Source(), other.ID(), id)
		}
	}
}
