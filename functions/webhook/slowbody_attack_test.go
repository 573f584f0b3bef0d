//go:build unix

package webhook_test

// The slow-body attack of issue 13 (item 5): 1,000 connections that send
// a request header announcing a large body and then trickle it, against a
// webhook served as in production (sdk.ServeHTTP, with httpbound's
// limits), in front of the real broker. Real webhooks sent meanwhile must
// be answered as if nothing happened, and every slow sender must be cut
// off with 408 once the body grace time is over.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/broker"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/functions/webhook"
	"github.com/zeroflow-dev/zeroflow/internal/httpbound"
	"github.com/zeroflow-dev/zeroflow/internal/slowsenders"
)

const attackSource = `
apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: shop, namespace: team-a}
spec:
  webhook:
    orders:
      port: "12000"
      endpoint: /orders
      method: POST
`

// countedListener counts the connections the server holds open.
type countedListener struct {
	net.Listener
	open atomic.Int64
}

func (l *countedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.open.Add(1)
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countedListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// attackWebhook serves the webhook with sdk.ServeHTTP on loopback with lim,
// in front of a real broker whose Trigger counts the events it delivers,
// and returns the server's address, its listener and the count.
func attackWebhook(t *testing.T, lim httpbound.Limits) (addr string, conns *countedListener, delivered *atomic.Int64) {
	t.Helper()
	var es v1alpha1.EventSource
	if err := yaml.UnmarshalStrict([]byte(attackSource), &es); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b, err := broker.Start(ctx, broker.Options{DataDir: t.TempDir(), Logger: discard()})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	delivered = &atomic.Int64{}
	sub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	subSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		delivered.Add(1)
	})}
	go func() { _ = subSrv.Serve(sub) }()
	u, _ := apis.ParseURL("http://" + sub.Addr().String())
	err = b.Apply(ctx, broker.Config{
		Brokers: []eventingv1.Broker{{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "default"}}},
		Triggers: []eventingv1.Trigger{{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "all"},
			Spec: eventingv1.TriggerSpec{Broker: "default", Subscriber: duckv1.Destination{URI: u}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sender := sdk.NewSender(b.Address("team-a", "default")).WithOffload(sdk.EventOffload{}, "")
	hook, err := webhook.New(&es, webhook.Options{Send: sender.Send, Offload: &sdk.EventOffload{}, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &countedListener{Listener: tl}
	served := make(chan error, 1)
	go func() {
		served <- sdk.ServeHTTP(ctx, hook.Handler(), sdk.Options{Listener: l, Limits: lim, Logger: discard(), DrainTimeout: 5 * time.Second})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("webhook server: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("webhook server still draining 15s after the test")
		}
		_ = subSrv.Close()
		b.Close()
	})
	addr = l.Addr().String()
	// No keep-alive: the probe leaves no idle connection to count.
	probe := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := probe.Get("http://" + addr + "/health/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr, l, delivered
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook not ready within 10s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSlowBodyAttack: real webhooks, one every 50 ms, are each answered
// 200 within 100 ms while 1,000 connections trickle their bodies (one
// byte a second of an announced megabyte); each slow one is answered 408
// after the body grace time, and every connection is closed at the end.
func TestSlowBodyAttack(t *testing.T) {
	const (
		slowConns  = 1000
		grace      = 3 * time.Second
		every      = 50 * time.Millisecond
		maxLatency = 100 * time.Millisecond
	)
	// Each slow connection is two files (client and server side).
	slowsenders.NeedOpenFiles(t, 2500)
	addr, conns, delivered := attackWebhook(t, httpbound.Limits{BodyGrace: grace})

	// The slow senders: each sends its header and a first byte at once,
	// then a byte a second, and waits for the answer.
	attack := slowsenders.Start(t, addr, "/orders", slowConns, time.Second, grace+20*time.Second)

	// Real webhooks, each on a new connection as an outside sender makes
	// them, until every slow sender has its answer.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var latencies []time.Duration
	underAttack := 0
	var failures []string
	collected := make([]slowsenders.Result, 0, slowConns)
	tick := time.NewTicker(every)
	defer tick.Stop()
	deadline := time.Now().Add(grace + 30*time.Second)
	for n := 0; len(collected) < slowConns; n++ {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d slow senders answered by %v", len(collected), slowConns, grace+30*time.Second)
		}
		wasOpen := attack.Open()
		start := time.Now()
		resp, err := client.Post("http://"+addr+"/orders", "application/json", strings.NewReader(fmt.Sprintf(`{"order":%d}`, n)))
		took := time.Since(start)
		if err != nil {
			failures = append(failures, fmt.Sprintf("webhook %d: %v", n, err))
		} else {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failures = append(failures, fmt.Sprintf("webhook %d: %d %s", n, resp.StatusCode, body))
			}
		}
		latencies = append(latencies, took)
		if wasOpen >= slowConns && attack.Open() >= slowConns {
			underAttack++
		}
	drain:
		for {
			select {
			case r := <-attack.Results:
				collected = append(collected, r)
			case <-tick.C:
				break drain
			}
		}
	}
	for _, f := range failures {
		t.Error(f)
	}

	slices.Sort(latencies)
	p := func(q float64) time.Duration { return latencies[int(q*float64(len(latencies)-1))] }
	t.Logf("%d real webhooks (%d with all %d slow connections open): p50 %v, p99 %v, max %v",
		len(latencies), underAttack, slowConns, p(0.5).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), latencies[len(latencies)-1].Round(10*time.Microsecond))
	if worst := latencies[len(latencies)-1]; worst > maxLatency {
		t.Errorf("slowest real webhook took %v, want at most %v", worst, maxLatency)
	}
	// The window with every slow connection open is about the grace
	// time, a webhook every 50 ms.
	if underAttack < 10 {
		t.Errorf("only %d real webhooks were sent while all %d slow connections were open; the attack did not hold", underAttack, slowConns)
	}
	var cut []time.Duration
	for _, r := range collected {
		switch {
		case r.Err != nil:
			t.Error(r.Err)
		case r.Status != http.StatusRequestTimeout:
			t.Errorf("slow sender answered %d after %v, want 408", r.Status, r.Took)
		default:
			cut = append(cut, r.Took)
		}
	}
	if len(cut) > 0 {
		slices.Sort(cut)
		t.Logf("%d slow senders answered 408 after %v to %v (grace %v)", len(cut), cut[0].Round(time.Millisecond), cut[len(cut)-1].Round(time.Millisecond), grace)
		if cut[0] < grace-100*time.Millisecond {
			t.Errorf("a slow sender was cut off after %v, before the grace time %v", cut[0], grace)
		}
		if cut[len(cut)-1] > grace+5*time.Second {
			t.Errorf("a slow sender was cut off only after %v (grace %v)", cut[len(cut)-1], grace)
		}
	}

	// Every real webhook reached the broker's subscriber, and no slow one.
	want := int64(len(latencies) - len(failures))
	wait := time.Now().Add(10 * time.Second)
	for delivered.Load() < want && time.Now().Before(wait) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if got := delivered.Load(); got != want {
		t.Errorf("%d events delivered, want the %d webhooks answered 200", got, want)
	}

	// The server closed every connection it was sent: the slow ones
	// once answered, the webhooks' (no keep-alive) after their answer.
	wait = time.Now().Add(5 * time.Second)
	for conns.open.Load() > 0 && time.Now().Before(wait) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := conns.open.Load(); n > 0 {
		t.Errorf("the webhook server still holds %d connections 5s after the attack", n)
	}
}

// A request held far longer than every bound of httpbound (a step.run
// request stays open while its step runs) is answered, with or without a
// body: function servers bound only the reading of headers and bodies.
func TestLongRequestOutlastsEveryBound(t *testing.T) {
	const short = 200 * time.Millisecond
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(8 * short):
			fmt.Fprint(w, "done")
		case <-r.Context().Done():
			http.Error(w, "request context ended", http.StatusServiceUnavailable)
		}
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- sdk.ServeHTTP(ctx, h, sdk.Options{Listener: l, Logger: discard(), DrainTimeout: 5 * time.Second, Limits: httpbound.Limits{
			ReadHeaderTimeout: short, BodyGrace: short, BodyIdle: short, IdleTimeout: short,
		}})
	}()
	defer func() {
		cancel()
		<-served
	}()
	for _, body := range []string{"", `{"step":"run"}`} {
		start := time.Now()
		resp, err := http.Post("http://"+l.Addr().String()+"/", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != "done" {
			t.Errorf("body %q: %d %s after %v, want 200 done after %v", body, resp.StatusCode, b, time.Since(start), 8*short)
		}
	}
}
