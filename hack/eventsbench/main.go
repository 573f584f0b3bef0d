// Command eventsbench measures the event half of zeroflow on loopback and
// prints the medians of several runs as markdown tables:
//
//   - with k6 (the load generator the first users run), the webhook source:
//     requests per second answered 200, each after the broker stored the
//     event, and the latency at a fixed rate; against the same k6 run on a
//     raw loopback handler that only answers 200, and on the broker's own
//     ingress;
//   - a one-dependency sensor with a data filter: events per second from the
//     broker through the filter function, back into the broker, to the
//     sensor function and its trigger; against one broker hop to a
//     subscriber that does nothing.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	"github.com/zeroflow-dev/zeroflow/functions/webhook"
	"github.com/zeroflow-dev/zeroflow/render"
)

func main() {
	var (
		runs     = flag.Int("runs", 3, "runs; medians are reported")
		duration = flag.Duration("duration", 10*time.Second, "length of each k6 run")
		vus      = flag.Int("vus", 64, "k6 virtual users for throughput")
		ratesArg = flag.String("rates", "1000,5000", "requests per second for the latency runs")
		k6       = flag.String("k6", "bin/k6-v1.8.1", "the k6 binary")
		script   = flag.String("script", "hack/k6/webhook.js", "the k6 script")
		events   = flag.Int("events", 20000, "events through the sensor per run")
		only     = flag.String("only", "", "run only: webhook or sensor")
		profile  = flag.String("cpuprofile", "", "write a CPU profile of the webhook throughput run here")
	)
	flag.Parse()
	var rates []int
	for _, r := range strings.Split(*ratesArg, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil {
			log.Fatalf("-rates: %v", err)
		}
		rates = append(rates, n)
	}
	// As the zeroflow commands run (internal/cli/gc.go).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	results := map[string][]float64{}
	var order []string
	record := func(name string, v float64) {
		if _, ok := results[name]; !ok {
			order = append(order, name)
		}
		results[name] = append(results[name], v)
	}
	k := &k6Runner{bin: *k6, script: *script, duration: *duration}
	for run := range *runs {
		fmt.Fprintf(os.Stderr, "run %d/%d\n", run+1, *runs)
		if *only == "" || *only == "webhook" {
			raw := k.throughput(rawServer(), *vus, nil)
			record("k6 → raw loopback handler (req/s)", raw.rate)
			s := startWebhookStack()
			ing := k.throughput(s.brokerURL, *vus, map[string]string{
				"Content-Type": "application/json", "Ce-Specversion": "1.0", "Ce-Type": "webhook", "Ce-Source": "bench", "Ce-Id": "k6",
			})
			record("k6 → broker ingress, durable (ev/s)", ing.rate)
			if *profile != "" {
				f, err := os.Create(*profile)
				if err != nil {
					log.Fatal(err)
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					log.Fatal(err)
				}
			}
			wh := k.throughput(s.webhookURL, *vus, nil)
			pprof.StopCPUProfile()
			record("k6 → webhook → broker accepted, over HTTP as on a cluster (ev/s)", wh.rate)
			record("  ratio webhook over HTTP / raw loopback", wh.rate/raw.rate)
			record("  ratio webhook over HTTP / broker ingress", wh.rate/ing.rate)
			record("  failed requests (throughput run)", wh.failed)
			in := k.throughput(s.inProcessURL, *vus, nil)
			record("k6 → webhook → broker accepted, in one process as zeroflow dev (ev/s)", in.rate)
			record("  ratio webhook in one process / raw loopback", in.rate/raw.rate)
			record("  failed requests (throughput run, one process)", in.failed)
			for _, rate := range rates {
				lat := k.latency(s.webhookURL, rate)
				record(fmt.Sprintf("webhook latency at %d/s, p50 (ms)", rate), lat.p50)
				record(fmt.Sprintf("webhook latency at %d/s, p99 (ms)", rate), lat.p99)
				record(fmt.Sprintf("  failed requests at %d/s", rate), lat.failed)
			}
			s.stop()
		}
		if *only == "" || *only == "sensor" {
			hop := brokerHop(*events)
			record("broker → no-op subscriber, one hop (ev/s)", hop)
			sn := sensorPipeline(*events)
			record("broker → filter → broker → sensor → log trigger (ev/s)", sn)
			record("  ratio sensor pipeline / one hop", sn/hop)
		}
	}
	fmt.Println("| measurement | median | runs |")
	fmt.Println("|---|---:|---|")
	for _, name := range order {
		vals := results[name]
		sorted := append([]float64(nil), vals...)
		sort.Float64s(sorted)
		fmt.Printf("| %s | %s | %s |\n", name, format(sorted[len(sorted)/2]), formatAll(vals))
	}
}

func format(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

func formatAll(vs []float64) string {
	s := ""
	for i, v := range vs {
		if i > 0 {
			s += ", "
		}
		s += format(v)
	}
	return s
}

// k6Runner runs the k6 script and reads its summary.
type k6Runner struct {
	bin, script string
	duration    time.Duration
}

type k6Result struct {
	rate, p50, p99, failed float64
}

func (k *k6Runner) run(env map[string]string) k6Result {
	dir, err := os.MkdirTemp("", "eventsbench-k6-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	summary := filepath.Join(dir, "summary.json")
	args := []string{"run", "--quiet", "--no-usage-report", "-e", "SUMMARY=" + summary, "-e", "DURATION=" + k.duration.String()}
	for key, v := range env {
		args = append(args, "-e", key+"="+v)
	}
	args = append(args, k.script)
	cmd := exec.Command(k.bin, args...)
	cmd.Stderr = os.Stderr
	if out, err := cmd.Output(); err != nil {
		log.Fatalf("k6: %v\n%s", err, out)
	}
	b, err := os.ReadFile(summary)
	if err != nil {
		log.Fatal(err)
	}
	var s struct {
		Metrics map[string]struct {
			Values map[string]float64 `json:"values"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		log.Fatal(err)
	}
	checks := s.Metrics["checks"].Values
	dur := s.Metrics["http_req_duration"].Values
	return k6Result{rate: s.Metrics["http_reqs"].Values["rate"], p50: dur["med"], p99: dur["p(99)"], failed: checks["fails"]}
}

func (k *k6Runner) throughput(url string, vus int, headers map[string]string) k6Result {
	env := map[string]string{"URL": url, "VUS": fmt.Sprint(vus)}
	if headers != nil {
		b, _ := json.Marshal(headers)
		env["HEADERS"] = string(b)
	}
	return k.run(env)
}

func (k *k6Runner) latency(url string, rate int) k6Result {
	return k.run(map[string]string{"URL": url, "RATE": fmt.Sprint(rate)})
}

// rawServer is the limit under the webhook: a loopback handler that reads
// the body and answers 200.
func rawServer() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = r.Body.Read(make([]byte, 4096))
		w.WriteHeader(http.StatusOK)
	}))
	return "http://" + l.Addr().String() + "/"
}

type webhookStack struct {
	brokerURL, webhookURL, inProcessURL string
	stop                                func()
}

// startWebhookStack runs the broker (durable, as in production) and the
// webhook function of the log-pipeline example in front of it.
func startWebhookStack() *webhookStack {
	ctx, cancel := context.WithCancel(context.Background())
	dir, err := os.MkdirTemp("", "eventsbench-broker-")
	if err != nil {
		log.Fatal(err)
	}
	b, err := broker.Start(ctx, broker.Options{DataDir: dir, Addr: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	if err := b.Apply(ctx, broker.Config{Brokers: []eventingv1.Broker{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "default"}}}}); err != nil {
		log.Fatal(err)
	}
	var es v1alpha1.EventSource
	if err := yaml.UnmarshalStrict([]byte(`
metadata: {name: workflow-a-webhook, namespace: default}
spec:
  webhook:
    workflowA: {port: "12000", endpoint: /workflow-a, method: POST}
`), &es); err != nil {
		log.Fatal(err)
	}
	w, err := webhook.New(&es, webhook.Options{Send: sdk.NewSender(b.Address("default", "default")).Send})
	if err != nil {
		log.Fatal(err)
	}
	// As zeroflow dev runs it: the webhook publishes into the broker in
	// the same process.
	direct, err := webhook.New(&es, webhook.Options{Send: func(ctx context.Context, ev event.Event) error {
		return b.Publish(ctx, "default", "default", ev)
	}})
	if err != nil {
		log.Fatal(err)
	}
	var wg sync.WaitGroup
	serve := func(h http.Handler) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = sdk.ServeHTTP(ctx, h, sdk.Options{Listener: l, Logger: slog.New(slog.DiscardHandler)})
		}()
		return "http://" + l.Addr().String() + "/workflow-a"
	}
	return &webhookStack{
		brokerURL:    b.Address("default", "default"),
		webhookURL:   serve(w.Handler()),
		inProcessURL: serve(direct.Handler()),
		stop: func() {
			cancel()
			wg.Wait()
			b.Close()
			os.RemoveAll(dir)
		},
	}
}

// brokerHop is the limit under the sensor: events published into the
// broker and delivered, once, to a subscriber that only answers 202.
func brokerHop(n int) float64 {
	var got atomic.Int64
	all := make(chan struct{})
	sub := serveFunc(sdk.HandlerFunc(func(context.Context, event.Event) (*event.Event, error) {
		if got.Add(1) == int64(n) {
			close(all)
		}
		return nil, nil
	}), "")
	defer sub.stop()
	b, stop := startBroker()
	defer stop()
	u, _ := apis.ParseURL(sub.url)
	apply(b, []eventingv1.Trigger{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "hop"},
		Spec: eventingv1.TriggerSpec{Broker: "default", Filter: &eventingv1.TriggerFilter{Attributes: map[string]string{"type": "webhook"}},
			Subscriber: duckv1.Destination{URI: u}},
	}})
	return publishAndWait(b, n, all)
}

const sensorYAML = `
metadata: {name: bench, namespace: default}
spec:
  dependencies:
  - name: hook
    eventSourceName: workflow-a-webhook
    eventName: workflowA
    filters:
      data:
      - {path: body.level, type: string, value: ["info|warn"]}
  triggers:
  - template: {name: record, log: {}}
`

// sensorPipeline runs a one-dependency sensor with a data filter and a log
// trigger behind the broker, and measures events from publish to the
// sensor's answer.
func sensorPipeline(n int) float64 {
	var s v1alpha1.Sensor
	if err := yaml.UnmarshalStrict([]byte(sensorYAML), &s); err != nil {
		log.Fatal(err)
	}
	b, stop := startBroker()
	defer stop()
	sink := b.Address("default", "default")
	fn, err := filter.NewFunction(&s, nil)
	if err != nil {
		log.Fatal(err)
	}
	sn, err := sensor.New(context.Background(), sensor.Config{Sensor: &s, Send: sdk.NewSender(sink).Send})
	if err != nil {
		log.Fatal(err)
	}
	var got atomic.Int64
	all := make(chan struct{})
	counted := sdk.HandlerFunc(func(ctx context.Context, ev event.Event) (*event.Event, error) {
		out, err := sn.Handle(ctx, ev)
		if err == nil && got.Add(1) == int64(n) {
			close(all)
		}
		return out, err
	})
	f := serveFunc(fn, sink)
	defer f.stop()
	sf := serveFunc(counted, sink)
	defer sf.stop()
	fu, _ := apis.ParseURL(f.url)
	su, _ := apis.ParseURL(sf.url)
	ts, err := render.WithSubscriberURLs(render.SensorTriggers(&s), map[string]*apis.URL{render.SensorFilterName(&s): fu, render.SensorFunctionName(&s): su})
	if err != nil {
		log.Fatal(err)
	}
	apply(b, ts)
	return publishAndWait(b, n, all)
}

func startBroker() (*broker.Broker, func()) {
	dir, err := os.MkdirTemp("", "eventsbench-broker-")
	if err != nil {
		log.Fatal(err)
	}
	b, err := broker.Start(context.Background(), broker.Options{DataDir: dir, Addr: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	return b, func() { b.Close(); os.RemoveAll(dir) }
}

func apply(b *broker.Broker, triggers []eventingv1.Trigger) {
	err := b.Apply(context.Background(), broker.Config{
		Brokers:  []eventingv1.Broker{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "default"}}},
		Triggers: triggers,
	})
	if err != nil {
		log.Fatal(err)
	}
}

// publishAndWait publishes n webhook events, 64 at a time, and returns
// events per second from the first publish to the n-th handled event.
func publishAndWait(b *broker.Broker, n int, all chan struct{}) float64 {
	began := time.Now()
	sem := make(chan struct{}, 64)
	for i := range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			ev := event.New()
			ev.SetID(fmt.Sprintf("ev-%d", i))
			ev.SetType("webhook")
			ev.SetSource("workflow-a-webhook")
			ev.SetSubject("workflowA")
			ev.SetExtension(events.ExtEventSource, "workflow-a-webhook")
			ev.SetExtension(events.ExtEvent, "workflowA")
			_ = ev.SetData(event.ApplicationJSON, map[string]any{"header": map[string]any{}, "body": map[string]any{"batch": i, "level": "info"}})
			if err := b.Publish(context.Background(), "default", "default", ev); err != nil {
				log.Fatal(err)
			}
		}()
	}
	select {
	case <-all:
	case <-time.After(5 * time.Minute):
		log.Fatal("not every event arrived within 5 minutes")
	}
	return float64(n) / time.Since(began).Seconds()
}

type served struct {
	url  string
	stop func()
}

func serveFunc(h sdk.Handler, sink string) served {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = sdk.Serve(ctx, h, sdk.Options{Listener: l, Sink: sink, Logger: slog.New(slog.DiscardHandler)})
	}()
	return served{url: "http://" + l.Addr().String(), stop: func() { cancel(); <-done }}
}
