package controller_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/broker"
	"github.com/zeroflow-dev/zeroflow/controller"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/kubeapi"
	"github.com/zeroflow-dev/zeroflow/manifests"
	"github.com/zeroflow-dev/zeroflow/render"
)

// haWorkflow has two steps in a row, each a call of the counting function.
const haWorkflow = `
apiVersion: zeroflow.dev/v1alpha1
kind: Workflow
metadata: {name: %s}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - [{name: one, template: count}]
    - [{name: two, template: count}]
  - name: count
    function: {name: hacount}
`

// leaderGauge reads zeroflow_controller_leader from reg.
func leaderGauge(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "zeroflow_controller_leader" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no zeroflow_controller_leader metric")
	return 0
}

// Two controllers share a Lease on a real API server of their own (the
// package's harness controller watches every namespace of its API), with a
// real broker routing their events to both through one address, as a
// Service would. Exactly one leads; the Workflows created through the API
// are started by the leader's watch; cancelling the leader's Run hands the
// watch over within seconds, and every step attempt runs exactly once. The
// shipped Role allows what the elections ask of the API.
func TestTwoControllersElectOneLeaderAndHandOver(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an API server and a broker")
	}
	if path := os.Getenv("ZEROFLOW_HA_LOG"); path != "" {
		defer func() { _ = os.WriteFile(path, []byte(logs.String()), 0o644) }()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	crds, err := manifests.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	api, err := kubeapi.Start(ctx, kubeapi.Options{CRDs: crds, UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Stop()
	dir := t.TempDir()
	bus, err := broker.Start(ctx, broker.Options{DataDir: dir + "/broker"})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	defer cancel() // the controllers and functions stop before the broker and the API
	cl, err := controller.NewClient(api.Config())
	if err != nil {
		t.Fatal(err)
	}
	// What the elections ask of the API, for the shipped Role.
	calls := &apiCalls{}
	leases, err := controller.NewLeases(calls.recorded(api.Config()))
	if err != nil {
		t.Fatal(err)
	}
	sink := bus.Address("default", "default")
	serve := func(h sdk.Handler) *url.URL {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			_ = sdk.Serve(ctx, h, sdk.Options{Listener: l, Sink: sink, Logger: slog.New(slog.DiscardHandler), DrainTimeout: time.Second})
		}()
		return &url.URL{Scheme: "http", Host: l.Addr().String()}
	}

	type instance struct {
		name string
		c    *controller.Controller
		reg  *prometheus.Registry
		stop context.CancelFunc
		done chan error
	}
	var backends []*url.URL
	var ctrls []*instance
	for _, name := range []string{"a", "b"} {
		reg := prometheus.NewRegistry()
		c, err := controller.New(controller.Config{
			Client:            cl,
			Send:              func(ctx context.Context, ev event.Event) error { return bus.Publish(ctx, "default", "default", ev) },
			Logger:            slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("instance", name),
			TokenKey:          []byte(sharedTokenKey),
			HeartbeatInterval: time.Second,
			LostAfter:         3 * time.Second,
			StartTimeout:      10 * time.Second,
			ResyncPeriod:      time.Second,
			Metrics:           reg,
			LeaderElection: &controller.LeaderElection{
				Leases: leases, Namespace: "zeroflow", Identity: "controller-" + name,
				LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond,
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		rctx, stop := context.WithCancel(ctx)
		in := &instance{name: name, c: c, reg: reg, stop: stop, done: make(chan error, 1)}
		go func() { in.done <- c.Run(rctx) }()
		ctrls = append(ctrls, in)
		backends = append(backends, serve(c))
	}
	// One address for both, round robin, as a Kubernetes Service.
	var next atomic.Int64
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(backends[int(next.Add(1))%len(backends)])
	}}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	psrv := &http.Server{Handler: proxy, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = psrv.Serve(pl) }()
	defer psrv.Close()

	// The counting step: how often each attempt of each node started.
	var mu sync.Mutex
	starts := map[string]int{}
	fnURL := serve(sdk.Step(func(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
		mu.Lock()
		starts[fmt.Sprintf("%s/%s#%d", in.Workflow, in.NodeID, in.Attempt)]++
		mu.Unlock()
		time.Sleep(100 * time.Millisecond)
		return sdk.StepOutput{}, nil
	}, sdk.StepOptions{Artifacts: sdk.DirArtifacts{Dir: dir + "/artifacts"}}))

	triggers := append(render.ControllerTriggers("default", "default"), render.StepFunctionTriggers("default", "default", "hacount", "hacount")...)
	ctrlURL, _ := apis.ParseURL("http://" + pl.Addr().String())
	if triggers, err = render.WithSubscriberURLs(triggers, map[string]*apis.URL{render.ControllerService: ctrlURL, "hacount": apis.HTTP(fnURL.Host)}); err != nil {
		t.Fatal(err)
	}
	retry := int32(10)
	linear := eventingduckv1.BackoffPolicyLinear
	delay := "PT0.1S"
	delivery := eventingduckv1.DeliverySpec{Retry: &retry, BackoffPolicy: &linear, BackoffDelay: &delay}
	for i := range triggers {
		if d := triggers[i].Spec.Delivery; d != nil {
			own := delivery
			own.Timeout = d.Timeout
			triggers[i].Spec.Delivery = &own
		}
	}
	if err := bus.Apply(ctx, broker.Config{
		Brokers:  []eventingv1.Broker{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "default"}, Spec: eventingv1.BrokerSpec{Delivery: &delivery}}},
		Triggers: triggers,
	}); err != nil {
		t.Fatal(err)
	}

	// Never two leaders, sampled throughout.
	var twoLeaders atomic.Bool
	sampling, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	go func() {
		for sampling.Err() == nil {
			if ctrls[0].c.IsLeader() && ctrls[1].c.IsLeader() {
				twoLeaders.Store(true)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	leaderOf := func(within time.Duration) *instance {
		t.Helper()
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			for _, in := range ctrls {
				if in.c.IsLeader() {
					return in
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("no leader after %s; log tail:\n%s", within, logs.tail(30))
		return nil
	}
	first := leaderOf(10 * time.Second)
	var other *instance
	for _, in := range ctrls {
		if in != first {
			other = in
		}
	}
	if leaderGauge(t, first.reg) != 1 || leaderGauge(t, other.reg) != 0 {
		t.Errorf("leader gauges: %s %v, %s %v; want 1 and 0", first.name, leaderGauge(t, first.reg), other.name, leaderGauge(t, other.reg))
	}
	lease, err := leases.Leases("zeroflow").Get(ctx, controller.DefaultLeaseName, metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "controller-"+first.name {
		t.Fatalf("lease zeroflow/%s: %+v, %v; want held by controller-%s", controller.DefaultLeaseName, lease.Spec, err, first.name)
	}

	const n = 20
	create := func(from, to int) {
		for i := from; i < to; i++ {
			wf := workflow(t, fmt.Sprintf(haWorkflow, fmt.Sprintf("ha-%d", i)))
			wf.Namespace = "ha"
			if _, err := cl.CreateWorkflow(ctx, wf); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Half while the first leads; the leader's Run is cancelled among
	// them (its event handling goes on, as a replica's would).
	create(0, n/2)
	time.Sleep(300 * time.Millisecond)
	first.stop()
	select {
	case err := <-first.done:
		if err != nil {
			t.Fatalf("the first leader's Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first leader's Run did not return within 5s of its cancel")
	}
	if first.c.IsLeader() || leaderGauge(t, first.reg) != 0 {
		t.Fatal("the first leader still says it leads after its Run returned")
	}
	handover := time.Now()
	second := leaderOf(5 * time.Second)
	if second != other {
		t.Fatalf("leader %s after the handover, want %s", second.name, other.name)
	}
	t.Logf("handed over from %s to %s in %s", first.name, second.name, time.Since(handover).Round(time.Millisecond))
	// The rest only the new leader's watch can start.
	create(n/2, n)
	for i := range n {
		wf := waitDoneOn(t, cl, "ha", fmt.Sprintf("ha-%d", i), 60*time.Second)
		if wf.Status.Phase != v1alpha1.WorkflowSucceeded {
			t.Errorf("%s: %s %s", wf.Name, wf.Status.Phase, wf.Status.Message)
			for id, n := range wf.Status.Nodes {
				if n.Phase.FailedOrError() {
					t.Logf("  node %s: %s", id, n.Message)
				}
			}
		}
	}
	stopSampling()
	if twoLeaders.Load() {
		t.Error("both controllers led at the same time")
	}
	checkControllerRole(t, calls.list())
	mu.Lock()
	defer mu.Unlock()
	nodes := 0
	for k, c := range starts {
		nodes++
		if c != 1 {
			t.Errorf("attempt %s started %d times", k, c)
		}
	}
	if nodes != 2*n {
		t.Errorf("%d step attempts started, want %d (two per workflow, none retried)", nodes, 2*n)
	}
}

// waitDoneOn waits for a workflow of cl's API to complete.
func waitDoneOn(t *testing.T, cl *controller.Client, ns, name string, within time.Duration) *v1alpha1.Workflow {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		wf, err := cl.GetWorkflow(context.Background(), ns, name)
		if err == nil && wf.Status.Phase.Completed() {
			return wf
		}
		if time.Now().After(deadline) {
			t.Fatalf("workflow %s/%s not done after %s (%v, phase %q); log tail:\n%s", ns, name, within, err, wf.Status.Phase, logs.tail(40))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cutTransport fails every request while cut is set: an API the instance
// cannot reach.
type cutTransport struct {
	rt  http.RoundTripper
	cut *atomic.Bool
}

func (c cutTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.cut.Load() {
		return nil, errors.New("cut off from the API by the test")
	}
	return c.rt.RoundTrip(r)
}

// A leader whose Lease renewals fail stops leading within its renew
// deadline, before the Lease expires for the other instance, which then
// takes over; reconnected, the first does not lead again while the other
// holds the Lease. Never do both lead.
func TestALeaderThatCannotRenewStopsBeforeAnotherLeads(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an API server")
	}
	const (
		leaseDuration = 2 * time.Second
		renewDeadline = time.Second
		retryPeriod   = 200 * time.Millisecond
	)
	ns := uniqueNamespace("lease-loss")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type instance struct {
		name string
		c    *controller.Controller
		cut  atomic.Bool
		done chan error
	}
	var ctrls []*instance
	for _, name := range []string{"a", "b"} {
		in := &instance{name: name, done: make(chan error, 1)}
		cfg := apiServer.Config()
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return cutTransport{rt: rt, cut: &in.cut} })
		leases, err := controller.NewLeases(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c, err := controller.New(controller.Config{
			Client:    client,
			Send:      func(context.Context, event.Event) error { return nil },
			Logger:    slog.New(slog.NewTextHandler(logs, nil)).With("instance", name),
			TokenKey:  []byte(sharedTokenKey),
			Namespace: ns,
			LeaderElection: &controller.LeaderElection{
				Leases: leases, Namespace: ns, Identity: "controller-" + name,
				LeaseDuration: leaseDuration, RenewDeadline: renewDeadline, RetryPeriod: retryPeriod,
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		in.c = c
		go func() { in.done <- c.Run(ctx) }()
		ctrls = append(ctrls, in)
	}
	var twoLeaders atomic.Bool
	sampling, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	go func() {
		for sampling.Err() == nil {
			if ctrls[0].c.IsLeader() && ctrls[1].c.IsLeader() {
				twoLeaders.Store(true)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	waitFor := func(what string, within time.Duration, cond func() bool) time.Time {
		t.Helper()
		deadline := time.Now().Add(within)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s; log tail:\n%s", what, within, logs.tail(20))
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Now()
	}
	var first, other *instance
	waitFor("a leader", 10*time.Second, func() bool {
		for i, in := range ctrls {
			if in.c.IsLeader() {
				first, other = in, ctrls[1-i]
				return true
			}
		}
		return false
	})
	// Renewed at least once, so that the cut falls in the middle of a term.
	time.Sleep(2 * retryPeriod)
	cutAt := time.Now()
	first.cut.Store(true)
	stopped := waitFor("the cut-off leader stops leading", renewDeadline+time.Second, func() bool { return !first.c.IsLeader() })
	took := waitFor("the other leads", leaseDuration+2*time.Second, other.c.IsLeader)
	t.Logf("cut at 0; %s stopped leading at %s; %s led at %s", first.name, stopped.Sub(cutAt).Round(time.Millisecond), other.name, took.Sub(cutAt).Round(time.Millisecond))
	if !took.After(stopped) {
		t.Errorf("%s led at %s, before %s stopped at %s", other.name, took.Sub(cutAt), first.name, stopped.Sub(cutAt))
	}
	first.cut.Store(false)
	time.Sleep(leaseDuration)
	if first.c.IsLeader() || !other.c.IsLeader() {
		t.Errorf("after reconnecting: %s leads %v, %s leads %v; want only %s", first.name, first.c.IsLeader(), other.name, other.c.IsLeader(), other.name)
	}
	stopSampling()
	if twoLeaders.Load() {
		t.Error("both instances led at the same time")
	}
	cancel()
	for _, in := range ctrls {
		select {
		case err := <-in.done:
			if err != nil {
				t.Errorf("%s: Run: %v", in.name, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s: Run did not return within 5s of its cancel", in.name)
		}
	}
}
