package broker

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

func postEvent(t *testing.T, url, id, typ string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"n":1}`))
	for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Id": id, "Ce-Source": "/test", "Ce-Type": typ, "Content-Type": "application/json"} {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func uri(t *testing.T, s string) duckv1.Destination {
	u, err := apis.ParseURL(s)
	if err != nil {
		t.Fatal(err)
	}
	return duckv1.Destination{URI: u}
}

// An event is acknowledged only once stored: with the store gone, the
// ingress answers 503 and never 202.
func TestStoreUnavailableAnswers503(t *testing.T) {
	b, err := Start(context.Background(), Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Apply(context.Background(), Config{Brokers: []eventingv1.Broker{{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default"}}}}); err != nil {
		t.Fatal(err)
	}
	if code := postEvent(t, b.Address("ns", "default"), "before", "t"); code != http.StatusAccepted {
		t.Fatalf("before: %d", code)
	}
	b.store.ns.Shutdown()
	b.store.ns.WaitForShutdown()
	for i := range 3 {
		if code := postEvent(t, b.Address("ns", "default"), "after", "t"); code != http.StatusServiceUnavailable {
			t.Fatalf("attempt %d with the store down: %d, want 503", i, code)
		}
	}
	if n := testutil.ToFloat64(b.metrics.rejected.WithLabelValues("ns/default", "503")); n != 3 {
		t.Errorf("rejected{code=503} = %v, want 3", n)
	}
}

// The metrics count what happens: accepted, rejected, delivered, retried,
// dead-lettered, and the delivery latency.
func TestMetricsCountWhatHappens(t *testing.T) {
	var calls atomic.Int64
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer flaky.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer broken.Close()
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()

	reg := prometheus.NewRegistry()
	b, err := Start(context.Background(), Options{DataDir: t.TempDir(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	retry := int32(2)
	err = b.Apply(context.Background(), Config{
		Brokers: []eventingv1.Broker{{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default"}}},
		Triggers: []eventingv1.Trigger{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "flaky"}, Spec: eventingv1.TriggerSpec{Broker: "default", Subscriber: uri(t, flaky.URL),
				Filters: []eventingv1.SubscriptionsAPIFilter{{Exact: map[string]string{"type": "good"}}}, Delivery: &eventingduckv1.DeliverySpec{Retry: &retry}}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "broken"}, Spec: eventingv1.TriggerSpec{Broker: "default", Subscriber: uri(t, broken.URL),
				Filters: []eventingv1.SubscriptionsAPIFilter{{Exact: map[string]string{"type": "bad"}}}, Delivery: &eventingduckv1.DeliverySpec{DeadLetterSink: ptrDest(uri(t, sink.URL))}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	postEvent(t, b.Address("ns", "default"), "g1", "good")
	postEvent(t, b.Address("ns", "default"), "b1", "bad")
	postEvent(t, b.URL()+"/ns/nope", "x", "good")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if testutil.ToFloat64(b.metrics.delivered.WithLabelValues("ns/flaky")) == 1 &&
			testutil.ToFloat64(b.metrics.deadLettered.WithLabelValues("ns/broken", sink.URL)) == 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for name, got := range map[string]float64{
		"accepted{ns/default}":           testutil.ToFloat64(b.metrics.accepted.WithLabelValues("ns/default")),
		"rejected{unknown,404}":          testutil.ToFloat64(b.metrics.rejected.WithLabelValues("unknown", "404")),
		"delivered{ns/flaky}":            testutil.ToFloat64(b.metrics.delivered.WithLabelValues("ns/flaky")),
		"retried{ns/flaky}":              testutil.ToFloat64(b.metrics.retried.WithLabelValues("ns/flaky")),
		"dead_lettered{ns/broken,sink}":  testutil.ToFloat64(b.metrics.deadLettered.WithLabelValues("ns/broken", sink.URL)),
		"delivered{ns/broken}":           testutil.ToFloat64(b.metrics.delivered.WithLabelValues("ns/broken")),
		"latency observations{ns/flaky}": float64(testutil.CollectAndCount(b.metrics.latency)),
	} {
		want := map[string]float64{"accepted{ns/default}": 2, "rejected{unknown,404}": 1, "delivered{ns/flaky}": 1, "retried{ns/flaky}": 1,
			"dead_lettered{ns/broken,sink}": 1, "delivered{ns/broken}": 0, "latency observations{ns/flaky}": 1}[name]
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n == 0 {
		t.Errorf("the registry exposes nothing: %d, %v", n, err)
	}
}

func ptrDest(d duckv1.Destination) *duckv1.Destination { return &d }
