package sdk_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/zeroflow-dev/zeroflow/broker"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// A function subscribed through the real broker: its reply goes back into
// the broker and on to the next trigger; an event it sends itself goes to
// K_SINK, the broker.
func TestFunctionBehindTheBroker(t *testing.T) {
	ctx := context.Background()
	b, err := broker.Start(ctx, broker.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sink := b.Address("default", "default")

	fn := sdk.HandlerFunc(func(ctx context.Context, e event.Event) (*event.Event, error) {
		side := newEvent("side-"+e.ID(), "sent")
		if err := sdk.SenderFrom(ctx).Send(ctx, side); err != nil {
			return nil, err
		}
		reply := newEvent("reply-"+e.ID(), "replied")
		return &reply, nil
	})
	fnURL := serve(t, fn, sdk.Options{Sink: sink})

	got := make(chan string, 10)
	end := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Ce-Type") + " " + r.Header.Get("Ce-Id")
		w.WriteHeader(http.StatusAccepted)
	}))
	defer end.Close()
	dest := func(u string) duckv1.Destination { p, _ := apis.ParseURL(u); return duckv1.Destination{URI: p} }
	trigger := func(name, typ, to string) eventingv1.Trigger {
		return eventingv1.Trigger{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
			Spec: eventingv1.TriggerSpec{Broker: "default", Filter: &eventingv1.TriggerFilter{Attributes: map[string]string{"type": typ}}, Subscriber: dest(to)}}
	}
	err = b.Apply(ctx, broker.Config{
		Brokers:  []eventingv1.Broker{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "default"}}},
		Triggers: []eventingv1.Trigger{trigger("to-fn", "start", fnURL), trigger("replies", "replied", end.URL), trigger("sent", "sent", end.URL)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sdk.NewSender(sink).Send(ctx, newEvent("1", "start")); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	timeout := time.After(10 * time.Second)
	for len(seen) < 2 {
		select {
		case s := <-got:
			seen[s] = true
		case <-timeout:
			t.Fatalf("saw only %v", seen)
		}
	}
	if !seen["replied reply-1"] || !seen["sent side-1"] {
		t.Errorf("saw %v", seen)
	}
}
