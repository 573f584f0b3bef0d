package sensor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/broker"
	"github.com/zeroflow-dev/zeroflow/functions/filter"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/functions/sensor"
	"github.com/zeroflow-dev/zeroflow/functions/sensor/trigger"
	"github.com/zeroflow-dev/zeroflow/internal/kubeapi"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
	"github.com/zeroflow-dev/zeroflow/manifests"
	"github.com/zeroflow-dev/zeroflow/render"
)

// The real in-process API server and the real broker, shared by the tests
// of this package (a CRD takes seconds to become usable).
var (
	apiServer *kubeapi.Server
	bus       *broker.Broker
	dyn       dynamic.Interface
	mapper    meta.RESTMapper
)

// cronWorkflowCRD stands for Argo's CronWorkflow, which the seed's k8s
// trigger creates: any kind the API serves can be a k8s trigger's object.
const cronWorkflowCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: cronworkflows.argoproj.io}
spec:
  group: argoproj.io
  scope: Namespaced
  names: {kind: CronWorkflow, plural: cronworkflows, singular: cronworkflow, listKind: CronWorkflowList}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

// widgetCRD is a kind with no schema, for what the k8s trigger does to any
// object (parameters into arbitrary fields, patch, update with the live
// object): Argo's workflow kinds are validated as zeroflow's when a trigger
// makes them, so they cannot carry made-up fields.
const widgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

var widgets = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx := context.Background()
	crds, err := manifests.CRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	crds = append(crds, []byte(cronWorkflowCRD), []byte(widgetCRD))
	if apiServer, err = kubeapi.Start(ctx, kubeapi.Options{CRDs: crds, UnsafeNoFsync: true}); err != nil {
		fmt.Fprintln(os.Stderr, "start api server:", err)
		return 1
	}
	defer apiServer.Stop()
	dir, err := os.MkdirTemp("", "sensor-test-broker-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if bus, err = broker.Start(ctx, broker.Options{DataDir: dir}); err != nil {
		fmt.Fprintln(os.Stderr, "start broker:", err)
		return 1
	}
	defer bus.Close()
	if dyn, mapper, err = apiServer.Clients(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// rig is one sensor, running: its filter and sensor functions on loopback,
// the Triggers that route to them, and a recorder of what the sensor sends
// to the broker.
type rig struct {
	sensor *v1alpha1.Sensor
	// sent receives the events the sensor put on the broker.
	sent chan event.Event
	logs *syncBuffer
	// stop stops the sensor function (to restart it).
	stop func()
	urls struct{ filter, sensor, recorder string }
	opts rigOptions
}

type rigOptions struct {
	now     func() time.Time
	secrets secrets.Resolver
	// extra Triggers to apply with the sensor's.
	extra []eventingv1.Trigger
	// delivery is the broker's delivery policy.
	delivery *eventingduckv1.DeliverySpec
}

func decodeSensor(t *testing.T, doc string) *v1alpha1.Sensor {
	t.Helper()
	s := &v1alpha1.Sensor{}
	if err := yaml.UnmarshalStrict([]byte(doc), s); err != nil {
		t.Fatalf("sensor YAML: %v", err)
	}
	if s.Namespace == "" {
		s.Namespace = "default"
	}
	return s
}

// start creates the Sensor in the API server and runs it.
func start(t *testing.T, doc string, opts rigOptions) *rig {
	t.Helper()
	ctx := context.Background()
	s := decodeSensor(t, doc)
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(s)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetAPIVersion(v1alpha1.SchemeGroupVersion.String())
	u.SetKind("Sensor")
	sensors := dyn.Resource(v1alpha1.SchemeGroupVersion.WithResource("sensors")).Namespace(s.Namespace)
	if _, err := sensors.Create(ctx, u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create sensor: %v", err)
	}
	t.Cleanup(func() { _ = sensors.Delete(context.Background(), s.Name, metav1.DeleteOptions{}) })

	r := &rig{sensor: s, sent: make(chan event.Event, 1000), logs: &syncBuffer{}, opts: opts}
	recorder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ev, err := binding.ToEvent(req.Context(), cehttp.NewMessageFromHttpRequest(req))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.sent <- *ev
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(recorder.Close)
	r.urls.recorder = recorder.URL

	fn, err := filter.NewFunction(s, nil)
	if err != nil {
		t.Fatalf("filter: %v", err)
	}
	r.urls.filter = serve(t, fn)
	r.startSensor(t)
	r.route(t)
	return r
}

// startSensor (re)starts the sensor function on the same address.
func (r *rig) startSensor(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	send := sdk.NewSender(bus.Address("default", "default")).Send
	fn, err := sensor.New(ctx, sensor.Config{
		Sensor:  r.sensor,
		Dynamic: dyn,
		Mapper:  mapper,
		Send:    send,
		Secrets: r.opts.secrets,
		Logger:  slog.New(slog.NewJSONHandler(r.logs, nil)),
		Now:     r.opts.now,
	})
	if err != nil {
		cancel()
		t.Fatalf("sensor: %v", err)
	}
	var l net.Listener
	if r.urls.sensor == "" {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	} else {
		l, err = net.Listen("tcp", strings.TrimPrefix(r.urls.sensor, "http://"))
	}
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r.urls.sensor = "http://" + l.Addr().String()
	done := make(chan error, 1)
	go func() {
		done <- sdk.Serve(ctx, fn, sdk.Options{Listener: l, Sink: bus.Address("default", "default"), Logger: slog.New(slog.NewJSONHandler(r.logs, nil)), DrainTimeout: 10 * time.Second})
	}()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("sensor function: %v", err)
			}
		})
	}
	t.Cleanup(r.stop)
}

func (r *rig) route(t *testing.T) {
	t.Helper()
	filterURL, _ := apis.ParseURL(r.urls.filter)
	sensorURL, _ := apis.ParseURL(r.urls.sensor)
	recorderURL, _ := apis.ParseURL(r.urls.recorder)
	triggers, err := render.WithSubscriberURLs(render.SensorTriggers(r.sensor), map[string]*apis.URL{render.SensorFilterName(r.sensor): filterURL, render.SensorFunctionName(r.sensor): sensorURL})
	if err != nil {
		t.Fatal(err)
	}
	triggers = append(triggers, eventingv1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "record-" + r.sensor.Name},
		Spec: eventingv1.TriggerSpec{
			Broker:     "default",
			Filter:     &eventingv1.TriggerFilter{Attributes: map[string]string{"source": trigger.SensorSource(r.sensor)}},
			Subscriber: duckv1.Destination{URI: recorderURL},
		},
	})
	triggers = append(triggers, r.opts.extra...)
	err = bus.Apply(context.Background(), broker.Config{
		Brokers:  []eventingv1.Broker{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "default"}, Spec: eventingv1.BrokerSpec{Delivery: r.opts.delivery}}},
		Triggers: triggers,
	})
	if err != nil {
		t.Fatalf("apply triggers: %v", err)
	}
}

// send puts an event from a zeroflow EventSource on the broker, as the
// webhook source does; data is JSON-encoded.
func send(t *testing.T, eventSource, eventName, id string, data any) {
	t.Helper()
	ev := sourceEvent(eventSource, eventName, id, data)
	testSource(t, &ev)
	if err := bus.Publish(context.Background(), "default", "default", ev); err != nil {
		t.Fatalf("publish %s: %v", id, err)
	}
}

// testSource makes ev's CloudEvents source the test's own (the sensor
// routes by the zfeventsource extension, which stays): the broker stores a
// source and id once within two minutes, and the tests of this package
// share one broker and reuse ids such as "a-1".
func testSource(t *testing.T, ev *event.Event) {
	ev.SetSource(ev.Source() + "/" + t.Name())
}

func sourceEvent(eventSource, eventName, id string, data any) event.Event {
	ev := event.New()
	ev.SetID(id)
	ev.SetType("webhook")
	ev.SetSource(eventSource)
	ev.SetSubject(eventName)
	ev.SetTime(time.Now().UTC())
	ev.SetExtension(events.ExtEventSource, eventSource)
	ev.SetExtension(events.ExtEvent, eventName)
	_ = ev.SetData(event.ApplicationJSON, data)
	return ev
}

func (r *rig) status(t *testing.T) v1alpha1.SensorStatus {
	t.Helper()
	u, err := dyn.Resource(v1alpha1.SchemeGroupVersion.WithResource("sensors")).Namespace(r.sensor.Namespace).Get(context.Background(), r.sensor.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var st v1alpha1.SensorStatus
	if raw, ok := u.Object["status"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &st); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// waiting returns the dependencies a trigger's state holds, with the id of
// the event of each.
func (r *rig) waiting(t *testing.T, triggerName string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, ts := range r.status(t).Triggers {
		if ts.Name == triggerName {
			for _, d := range ts.Dependencies {
				out[d.Name] = d.EventID
			}
		}
	}
	return out
}

// nextSent waits for the next event the sensor sent to the broker.
func (r *rig) nextSent(t *testing.T) event.Event {
	t.Helper()
	select {
	case ev := <-r.sent:
		return ev
	case <-time.After(15 * time.Second):
		t.Fatalf("the sensor sent nothing; log:\n%s", r.logs)
		return event.Event{}
	}
}

// noneSent checks that the sensor sends nothing more for a while.
func (r *rig) noneSent(t *testing.T, wait time.Duration) {
	t.Helper()
	select {
	case ev := <-r.sent:
		t.Fatalf("the sensor sent %s %s unexpectedly", ev.Type(), ev.ID())
	case <-time.After(wait):
	}
}

func serve(t *testing.T, h sdk.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- sdk.Serve(ctx, h, sdk.Options{Listener: l, Sink: bus.Address("default", "default"), Logger: slog.New(slog.DiscardHandler), DrainTimeout: 10 * time.Second})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + l.Addr().String()
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// request is what an HTTP endpoint received.
type request struct {
	Method string
	Path   string
	Header http.Header
	Body   string
}

// endpoint is a loopback HTTP server that records requests and answers
// with the statuses it is given, in order, then 200.
type endpoint struct {
	URL  string
	got  chan request
	mu   sync.Mutex
	plan []int
}

func newEndpoint(t *testing.T, statuses ...int) *endpoint {
	t.Helper()
	e := &endpoint{got: make(chan request, 1000), plan: statuses}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		e.mu.Lock()
		code := http.StatusOK
		if len(e.plan) > 0 {
			code, e.plan = e.plan[0], e.plan[1:]
		}
		e.mu.Unlock()
		e.got <- request{Method: req.Method, Path: req.URL.Path, Header: req.Header.Clone(), Body: string(body)}
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	e.URL = srv.URL
	return e
}

func (e *endpoint) next(t *testing.T) request {
	t.Helper()
	select {
	case r := <-e.got:
		return r
	case <-time.After(15 * time.Second):
		t.Fatal("the endpoint got no request")
		return request{}
	}
}

func (e *endpoint) none(t *testing.T, wait time.Duration) {
	t.Helper()
	select {
	case r := <-e.got:
		t.Fatalf("unexpected request %s %s %s", r.Method, r.Path, r.Body)
	case <-time.After(wait):
	}
}

// jsonBody decodes a request body.
func jsonBody(t *testing.T, r request) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	return m
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
