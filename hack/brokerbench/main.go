// Command brokerbench measures the embedded broker against the raw limits
// under it, in one process on loopback, and prints the medians of several
// runs as markdown tables:
//
//   - raw loopback HTTP: POSTs of the same size to a handler that only answers 202;
//   - raw JetStream: publishes into the same kind of embedded file store, one at a
//     time waiting for each ack, 64 at a time, and fully asynchronous;
//   - the broker's durable ingress: 1 KiB CloudEvents accepted (202) per second,
//     with one trigger delivering them;
//   - end-to-end latency (ingress to subscriber) p50 and p99 at fixed rates.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/zeroflow-dev/zeroflow/broker"
)

func main() {
	var (
		runs        = flag.Int("runs", 5, "runs; medians are reported")
		duration    = flag.Duration("duration", 5*time.Second, "length of each throughput and latency measurement")
		concurrency = flag.Int("concurrency", 64, "concurrent senders for throughput")
		size        = flag.Int("size", 1024, "event data size in bytes")
		ratesFlag   = flag.String("rates", "1000,5000", "event rates for the latency runs")
		cpuProfile  = flag.String("cpuprofile", "", "write a CPU profile of the ingress run without delivery here")
		only        = flag.String("only", "", "run only this measurement: http, jetstream, ingress or latency")
	)
	flag.Parse()
	// As `zeroflow broker` and `zeroflow dev` run (internal/cli/gc.go).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	var rates []int
	for _, r := range strings.Split(*ratesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil {
			log.Fatalf("-rates: %v", err)
		}
		rates = append(rates, n)
	}
	data := bytes.Repeat([]byte("x"), *size)
	results := map[string][]float64{}
	var order []string
	record := func(name string, v float64) {
		if _, ok := results[name]; !ok {
			order = append(order, name)
		}
		results[name] = append(results[name], v)
	}
	want := func(name string) bool { return *only == "" || *only == name }
	for run := range *runs {
		fmt.Fprintf(os.Stderr, "run %d/%d\n", run+1, *runs)
		if want("http") {
			record("raw loopback HTTP POST (req/s)", rawHTTP(*concurrency, *duration, data))
		}
		if want("jetstream") {
			sync1, conc, async := rawJetStream(*concurrency, *duration, data)
			record("raw JetStream publish, one at a time (msg/s)", sync1)
			record(fmt.Sprintf("raw JetStream publish, %d at a time (msg/s)", *concurrency), conc)
			record("raw JetStream publish, async (msg/s)", async)
		}
		if want("ingress") {
			record("broker ingress, durable, delivering (events/s)", ingress(*concurrency, *duration, data, false))
			if *cpuProfile != "" {
				f, err := os.Create(*cpuProfile)
				if err != nil {
					log.Fatal(err)
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					log.Fatal(err)
				}
			}
			record("broker ingress, durable, not delivering (events/s)", ingress(*concurrency, *duration, data, true))
			if *cpuProfile != "" {
				pprof.StopCPUProfile()
			}
		}
		for _, rate := range rates {
			if !want("latency") {
				break
			}
			// Start from a settled process: the throughput runs before
			// leave garbage and deleted data directories behind.
			runtime.GC()
			time.Sleep(2 * time.Second)
			p50, p99, sent := latency(rate, *duration, data)
			record(fmt.Sprintf("end-to-end latency at %d/s, p50 (ms)", rate), p50)
			record(fmt.Sprintf("end-to-end latency at %d/s, p99 (ms)", rate), p99)
			record(fmt.Sprintf("rate achieved for %d/s (events/s)", rate), sent)
		}
	}
	fmt.Printf("| measurement (%d B events, %d runs of %s) | runs | median |\n|---|---|---|\n", *size, *runs, *duration)
	for _, name := range order {
		fmt.Printf("| %s | %s | **%s** |\n", name, list(results[name]), num(median(results[name])))
	}
	in := median(results["broker ingress, durable, not delivering (events/s)"])
	if *only != "" {
		return
	}
	fmt.Printf("\n| ratio | value |\n|---|---|\n")
	for _, base := range []string{"raw JetStream publish, one at a time (msg/s)", fmt.Sprintf("raw JetStream publish, %d at a time (msg/s)", *concurrency), "raw JetStream publish, async (msg/s)", "raw loopback HTTP POST (req/s)"} {
		fmt.Printf("| broker ingress (not delivering) ÷ %s | %.2f |\n", strings.TrimSuffix(strings.TrimSuffix(base, " (msg/s)"), " (req/s)"), in/median(results[base]))
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func num(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func list(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = num(x)
	}
	return strings.Join(parts, ", ")
}

func newClient(c int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}}
}

// hammer runs c workers calling do until d has passed and returns calls/s
// of the calls that succeeded.
func hammer(c int, d time.Duration, do func() bool) float64 {
	var ok atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if do() {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(ok.Load()) / time.Since(start).Seconds()
}

func rawHTTP(c int, d time.Duration, data []byte) float64 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	})}
	go srv.Serve(l)
	defer srv.Close()
	client := newClient(c)
	url := "http://" + l.Addr().String() + "/"
	return hammer(c, d, func() bool {
		resp, err := client.Post(url, "application/json", bytes.NewReader(data))
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusAccepted
	})
}

func rawJetStream(c int, d time.Duration, data []byte) (sync1, conc, async float64) {
	dir, err := os.MkdirTemp("", "brokerbench-js-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ns, err := server.NewServer(&server.Options{JetStream: true, StoreDir: dir, DontListen: true, NoLog: true, NoSigs: true})
	if err != nil {
		log.Fatal(err)
	}
	ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		log.Fatal("nats not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	// Limits retention keeps every message, as if a trigger were behind.
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"raw"}, Storage: jetstream.FileStorage}); err != nil {
		log.Fatal(err)
	}
	publish := func() bool { _, err := js.Publish(ctx, "raw", data); return err == nil }
	sync1 = hammer(1, d, publish)
	conc = hammer(c, d, publish)
	var n atomic.Int64
	start := time.Now()
	for time.Since(start) < d {
		f, err := js.PublishAsync("raw", data, jetstream.WithStallWait(time.Minute))
		if err != nil {
			continue
		}
		go func() {
			select {
			case <-f.Ok():
				n.Add(1)
			case <-f.Err():
			}
		}()
	}
	<-js.PublishAsyncComplete()
	async = float64(n.Load()) / time.Since(start).Seconds()
	return sync1, conc, async
}

// withBroker runs fn against a fresh broker with one trigger to sub.
// With filterAll, the trigger matches nothing: events are stored, read and
// acknowledged, but not sent over HTTP, which isolates the ingress.
func withBroker(sub string, c int, filterAll bool, fn func(url string)) {
	dir, err := os.MkdirTemp("", "brokerbench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	b, err := broker.Start(ctx, broker.Options{DataDir: dir, Concurrency: c})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	u, _ := apis.ParseURL(sub)
	err = b.Apply(ctx, broker.Config{
		Brokers: []eventingv1.Broker{{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: "default"}}},
		Triggers: []eventingv1.Trigger{{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: "sink"},
			Spec: eventingv1.TriggerSpec{Broker: "default", Subscriber: duckv1.Destination{URI: u}, Filters: filters(filterAll)}}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fn(b.Address("bench", "default"))
}

// subscriber answers 202 and reports each event's latency from its
// "sentns" extension.
func subscriber(onEvent func(latency time.Duration)) (string, func()) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if sent, err := strconv.ParseInt(r.Header.Get("Ce-Sentns"), 10, 64); err == nil && onEvent != nil {
			onEvent(time.Since(time.Unix(0, sent)))
		}
		w.WriteHeader(http.StatusAccepted)
	})}
	go srv.Serve(l)
	return "http://" + l.Addr().String(), func() { srv.Close() }
}

var seq atomic.Int64

func post(client *http.Client, url string, data []byte) bool {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(data))
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", strconv.FormatInt(seq.Add(1), 10))
	req.Header.Set("Ce-Source", "/brokerbench")
	req.Header.Set("Ce-Type", "dev.zeroflow.bench")
	req.Header.Set("Ce-Sentns", strconv.FormatInt(time.Now().UnixNano(), 10))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusAccepted
}

func filters(none bool) []eventingv1.SubscriptionsAPIFilter {
	if !none {
		return nil
	}
	return []eventingv1.SubscriptionsAPIFilter{{Exact: map[string]string{"type": "matches.nothing"}}}
}

func ingress(c int, d time.Duration, data []byte, filterAll bool) float64 {
	sub, stop := subscriber(nil)
	defer stop()
	var rate float64
	withBroker(sub, c, filterAll, func(url string) {
		client := newClient(c)
		rate = hammer(c, d, func() bool { return post(client, url, data) })
	})
	return rate
}

// latency sends at a fixed rate for d and returns the p50 and p99 of the
// time from sending to the subscriber, and the rate achieved.
func latency(rate int, d time.Duration, data []byte) (p50, p99, achieved float64) {
	var (
		mu  sync.Mutex
		lat []time.Duration
	)
	sub, stop := subscriber(func(l time.Duration) {
		mu.Lock()
		lat = append(lat, l)
		mu.Unlock()
	})
	defer stop()
	var sent atomic.Int64
	withBroker(sub, 64, false, func(url string) {
		client := newClient(256)
		tokens := make(chan struct{}, rate)
		var wg sync.WaitGroup
		for range 256 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range tokens {
					if post(client, url, data) {
						sent.Add(1)
					}
				}
			}()
		}
		start := time.Now()
		for tick := time.NewTicker(time.Millisecond); time.Since(start) < d; <-tick.C {
			due := int(time.Since(start).Seconds()*float64(rate)) - int(sent.Load()) - len(tokens)
			for range max(due, 0) {
				tokens <- struct{}{}
			}
		}
		close(tokens)
		wg.Wait()
		achieved = float64(sent.Load()) / time.Since(start).Seconds()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			n := len(lat)
			mu.Unlock()
			if int64(n) >= sent.Load() {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	mu.Lock()
	defer mu.Unlock()
	if len(lat) == 0 {
		return 0, 0, achieved
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / 1e6 }
	return at(0.50), at(0.99), achieved
}
