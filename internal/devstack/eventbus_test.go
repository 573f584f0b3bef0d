package devstack

import (
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/render"
)

// TestEventBusInAnotherNamespace: Argo's names work as written. An
// EventSource and a Sensor in namespace argo-events with eventBusName
// eventbus (declared nowhere) run a webhook through that Broker to a
// Succeeded Workflow, and a CronWorkflow in that namespace, where no
// Broker "default" is declared, fires. The stack made both Brokers with
// zeroflow's delivery, dead letters going to its dead-letter function.
func TestEventBusInAnotherNamespace(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	doc := fmt.Sprintf(`apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: webhook, namespace: argo-events}
spec:
  eventBusName: eventbus
  webhook:
    peak: {port: "%s", endpoint: /peak, method: POST}
---
apiVersion: zeroflow.dev/v1alpha1
kind: Sensor
metadata: {name: on-peak, namespace: argo-events}
spec:
  eventBusName: eventbus
  template: {serviceAccountName: operate-workflow-sa}
  dependencies:
  - {name: peak, eventSourceName: webhook, eventName: peak}
  triggers:
  - template:
      name: run
      workflow:
        operation: submit
        source:
          resource:
            apiVersion: zeroflow.dev/v1alpha1
            kind: Workflow
            metadata: {generateName: peak-}
            spec:
              serviceAccountName: scaler
              entrypoint: main
              arguments: {parameters: [{name: title, value: none}]}
              templates:
              - name: main
                script: {image: alpine, command: [sh], source: "echo {{workflow.parameters.title}}"}
        parameters:
        - src: {dependencyName: peak, dataKey: body.title}
          dest: spec.arguments.parameters.0.value
---
apiVersion: zeroflow.dev/v1alpha1
kind: CronWorkflow
metadata: {name: every-second, namespace: argo-events}
spec:
  schedules: ["* * * * * *"]
  workflowMetadata: {labels: {source: cron}}
  workflowSpec:
    entrypoint: main
    templates:
    - name: main
      script: {image: alpine, command: [sh], source: "echo tick"}
`, port)
	ctx, s, client := startWith(t, doc)
	for _, want := range []string{"argo-events/eventbus", "argo-events/default", "default/default"} {
		if !slices.Contains(s.Brokers, want) {
			t.Errorf("brokers %v: no %s", s.Brokers, want)
		}
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:"+port+"/peak", strings.NewReader(`{"title": "black friday"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The Brokers the stack made are closed like the runtime's: a subject
	// of the namespace that no policy names cannot submit through the
	// controller's Triggers there.
	stranger, err := s.functions.ids.issuer.Issue("system:serviceaccount:argo-events:default", render.BrokerAudience("argo-events", "default"))
	if err != nil {
		t.Fatal(err)
	}
	strangerBus, _ := s.functions.ids.issuer.Issue("system:serviceaccount:argo-events:default", render.BrokerAudience("argo-events", "eventbus"))
	for bus, token := range map[string]string{"default": stranger, "eventbus": strangerBus} {
		submit := event.New()
		submit.SetID("forged-submit")
		submit.SetType(events.TypeWorkflowSubmit)
		submit.SetSource("/attacker")
		_ = submit.SetData(event.ApplicationJSON, map[string]any{"workflow": map[string]any{"metadata": map[string]any{"name": "forged", "namespace": "argo-events"}}})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.Broker.Address("argo-events", bus), nil)
		if err := cehttp.WriteRequest(ctx, binding.ToMessage(&submit), req); err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("a submit from a subject no policy names to argo-events/%s: %d, want 403", bus, resp.StatusCode)
		}
	}

	var webhookRun, cronRun bool
	for !webhookRun || !cronRun {
		l, err := client.ListWorkflows(ctx, "argo-events", metav1.ListOptions{})
		if err == nil {
			for _, wf := range l.Items {
				if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
					continue
				}
				switch {
				case strings.HasPrefix(wf.Name, "peak-"):
					if v := wf.Spec.Arguments.Parameters[0].Value; v == nil || string(*v) != "black friday" {
						t.Fatalf("workflow %s got title %v, want the event's", wf.Name, v)
					}
					if wf.Spec.ServiceAccountName != "scaler" {
						t.Errorf("workflow %s: serviceAccountName %q, want the trigger source's", wf.Name, wf.Spec.ServiceAccountName)
					}
					webhookRun = true
				case strings.HasPrefix(wf.Name, "every-second-"):
					cronRun = true
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: webhook run %v, cron run %v (%v)", webhookRun, cronRun, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Declared Brokers keep their delivery, get zeroflow's when they set none,
// and their dead letters reach the stack's dead-letter function from any
// namespace; what objects name is made, each once, and the controller's
// Triggers of two Brokers of one namespace do not collide.
func TestWithEventBuses(t *testing.T) {
	retry := int32(1)
	declared := []eventingv1.Broker{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "argo-events", Name: "eventbus"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "argo-events", Name: "default"}, Spec: eventingv1.BrokerSpec{Delivery: &eventingduckv1.DeliverySpec{
			Retry:          &retry,
			DeadLetterSink: &duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: render.BuiltinService(render.DeadLetterFunction)}},
		}}},
	}
	in := render.Input{
		Sensors:       []*v1alpha1.Sensor{{ObjectMeta: metav1.ObjectMeta{Namespace: "argo-events", Name: "s"}, Spec: v1alpha1.SensorSpec{EventBusName: "eventbus"}}},
		EventSources:  []*v1alpha1.EventSource{{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "e"}, Spec: v1alpha1.EventSourceSpec{EventBusName: "hooks"}}},
		CronWorkflows: []*v1alpha1.CronWorkflow{{ObjectMeta: metav1.ObjectMeta{Namespace: "nightly", Name: "c"}}},
	}
	got := map[string]eventingv1.Broker{}
	for _, b := range withEventBuses(declared, in, slog.New(slog.DiscardHandler)) {
		key := b.Namespace + "/" + b.Name
		if _, dup := got[key]; dup {
			t.Errorf("broker %s twice", key)
		}
		got[key] = b
	}
	for _, want := range []string{"argo-events/eventbus", "argo-events/default", "team/hooks", "team/default", "nightly/default", "default/default"} {
		b, ok := got[want]
		if !ok {
			t.Errorf("no broker %s (%v)", want, slices.Collect(maps.Keys(got)))
			continue
		}
		d := b.Spec.Delivery
		if d == nil || d.Retry == nil || d.DeadLetterSink == nil || d.DeadLetterSink.Ref == nil {
			t.Errorf("broker %s: delivery %+v", want, d)
			continue
		}
		if ns := d.DeadLetterSink.Ref.Namespace; b.Namespace != DefaultNamespace && ns != DefaultNamespace {
			t.Errorf("broker %s: dead letters to namespace %q, want the stack's %q", want, ns, DefaultNamespace)
		}
	}
	if r := got["argo-events/default"].Spec.Delivery.Retry; *r != 1 {
		t.Errorf("a declared delivery was replaced: retry %d", *r)
	}
	names := map[string]bool{}
	for _, b := range []string{"eventbus", "default"} {
		for _, tr := range controllerTriggers("argo-events", b) {
			if names[tr.Name] {
				t.Errorf("trigger %s on two brokers", tr.Name)
			}
			names[tr.Name] = true
		}
	}
}
