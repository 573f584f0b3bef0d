package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// haBurst is how many webhooks the two-controller test sends:
// $ZEROFLOW_HA_BURST (500 under make e2e-long), else 50.
func haBurst(t *testing.T) int {
	t.Helper()
	v := os.Getenv("ZEROFLOW_HA_BURST")
	if v == "" {
		return 50
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 3 {
		t.Fatalf("$ZEROFLOW_HA_BURST=%q: want a number of webhooks, at least 3", v)
	}
	return n
}

// serviceProxy stands for the controller's Kubernetes Service: it spreads
// requests over the replicas, round robin, and leaves out one whose
// connections are refused (a dead pod's endpoint goes); the request that
// found it dead gets 502, and the broker redelivers it.
type serviceProxy struct {
	backends []*url.URL
	down     []atomic.Bool
	next     atomic.Int64
}

func (p *serviceProxy) pick() int {
	for range len(p.backends) {
		i := int(p.next.Add(1)) % len(p.backends)
		if !p.down[i].Load() {
			return i
		}
	}
	return 0
}

func (p *serviceProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := p.pick()
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(p.backends[i]) },
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, syscall.ECONNREFUSED) {
				p.down[i].Store(true)
			}
			http.Error(w, "controller replica "+p.backends[i].Host+": "+err.Error(), http.StatusBadGateway)
		},
	}
	rp.ServeHTTP(w, r)
}

// leads reads a controller's zeroflow_controller_leader gauge.
func leads(metricsURL string) (bool, error) {
	resp, err := http.Get(metricsURL)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "zeroflow_controller_leader "); ok {
			return strings.TrimSpace(v) == "1", nil
		}
	}
	return false, fmt.Errorf("%s: no zeroflow_controller_leader", metricsURL)
}

// TestTwoControllerProcessesUnderABurstLoseTheLeader runs the example
// under `zeroflow dev` with two `zeroflow controller` processes behind one
// address, electing their leader on the dev API's Lease, and SIGKILLs the
// leader a third into a burst of webhooks. The other takes the Lease
// within seconds of its expiry; every webhook gives exactly one Succeeded
// workflow and one archived record, each workflow's report step (an http
// step, counted by the server it posts to) runs once, and no step needed a
// second attempt.
func TestTwoControllerProcessesUnderABurstLoseTheLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	n := haBurst(t)
	bin := buildBinary(t)

	var mu sync.Mutex
	reports := map[string]int{}
	report := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Workflow string `json:"workflow"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Workflow == "" {
			http.Error(w, fmt.Sprintf("want {workflow: NAME, ...}: %v", err), http.StatusBadRequest)
			return
		}
		mu.Lock()
		reports[body.Workflow]++
		mu.Unlock()
	})}
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = report.Serve(rl) }()
	defer report.Close()

	dir, port := copyExampleOnFreePort(t)
	wft := filepath.Join(dir, "workflowtemplate.yaml")
	b, err := os.ReadFile(wft)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "value: http://echo/report") {
		t.Fatal("the example's report-url is no longer http://echo/report: update this test")
	}
	if err := os.WriteFile(wft, []byte(strings.ReplaceAll(string(b), "value: http://echo/report", "value: http://"+rl.Addr().String()+"/report")), 0o644); err != nil {
		t.Fatal(err)
	}

	ports := []string{freePort(t), freePort(t)}
	proxy := &serviceProxy{down: make([]atomic.Bool, 2)}
	for _, p := range ports {
		proxy.backends = append(proxy.backends, &url.URL{Scheme: "http", Host: "127.0.0.1:" + p})
	}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	psrv := &http.Server{Handler: proxy, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = psrv.Serve(pl) }()
	defer psrv.Close()

	d := startDevOn(t, bin, dir, "--controller", "http://"+pl.Addr().String())
	d.webhook = "http://127.0.0.1:" + port + "/workflow-a"
	idEnv, err := os.ReadFile(filepath.Join(d.DataDir, "identity", "controller.env"))
	if err != nil {
		t.Fatal(err)
	}
	const leaseDuration = 3 * time.Second
	type replica struct {
		cmd     *exec.Cmd
		metrics string
		killed  bool
	}
	var replicas []*replica
	for i, p := range ports {
		mp := freePort(t)
		cmd := exec.Command(bin, "controller", "--kubeconfig", filepath.Join(d.DataDir, "kubeconfig"), "--sink", d.BrokerURL,
			"--addr", "127.0.0.1:"+p, "--metrics-addr", "127.0.0.1:"+mp, "--resync", "2s",
			"--lease-duration", leaseDuration.String(), "--lease-renew-deadline", "2s", "--lease-retry-period", "500ms")
		cmd.Stdout, cmd.Stderr = d.Log, d.Log
		// Its identity, as the dev stack lists it for a controller of its
		// own process (a pod gets the same from render).
		cmd.Env = append(os.Environ(), strings.Fields(string(idEnv))...)
		cmd.Env = append(cmd.Env, fmt.Sprintf("HOSTNAME=replica-%d", i))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := &replica{cmd: cmd, metrics: "http://127.0.0.1:" + mp + "/metrics"}
		replicas = append(replicas, r)
		t.Cleanup(func() {
			if !r.killed {
				_ = cmd.Process.Signal(syscall.SIGTERM)
			}
			_ = cmd.Wait()
		})
	}
	// leader waits until exactly one live replica leads and returns it.
	leader := func(within time.Duration) *replica {
		t.Helper()
		deadline := time.Now().Add(within)
		var last string
		for time.Now().Before(deadline) {
			var leading []*replica
			last = ""
			for _, r := range replicas {
				if r.killed {
					continue
				}
				ok, err := leads(r.metrics)
				last += fmt.Sprintf(" %s: %v %v;", r.metrics, ok, err)
				if ok {
					leading = append(leading, r)
				}
			}
			if len(leading) > 1 {
				t.Fatalf("two replicas lead at once:%s", last)
			}
			if len(leading) == 1 {
				return leading[0]
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("no replica leads after %s:%s\nlog tail:\n%s", within, last, d.Log.Tail(30))
		return nil
	}
	first := leader(30 * time.Second)

	var survivor *replica
	for _, r := range replicas {
		if r != first {
			survivor = r
		}
	}
	// When the survivor leads, watched from the kill on, during the burst.
	var killedAt time.Time
	handedOver := make(chan time.Duration, 1)
	var kill sync.Once
	burst(t, d.webhook, n, 1, func(sent int) {
		if sent != n/3 {
			return
		}
		kill.Do(func() {
			killedAt = time.Now()
			first.killed = true
			_ = first.cmd.Process.Signal(syscall.SIGKILL)
			go func() {
				for time.Since(killedAt) < time.Minute {
					if ok, _ := leads(survivor.metrics); ok {
						handedOver <- time.Since(killedAt)
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			}()
		})
	})
	if killedAt.IsZero() {
		t.Fatal("the leader was not killed")
	}
	// Killed, it released nothing: the other takes over once the Lease
	// expires (leaseDuration after its last renewal, at most the kill),
	// then within a retry period or two.
	select {
	case after := <-handedOver:
		t.Logf("%d webhooks; the leader was SIGKILLed after %d; the other led %s after the kill", n, n/3, after.Round(10*time.Millisecond))
		// The bound is loose: under a burst on a small shared machine an
		// API request takes seconds, and the survivor sees the last
		// renewal (from which the Lease expires) as late as its last read.
		if limit := leaseDuration + 20*time.Second; after > limit {
			t.Errorf("the other replica led %s after the kill, want within %s (the lease duration and slow API reads)", after, limit)
		}
	case <-time.After(time.Until(killedAt.Add(time.Minute + time.Second))):
		t.Fatalf("the other replica did not lead within a minute of the kill; log tail:\n%s", d.Log.Tail(30))
	}
	if leader(5*time.Second) != survivor {
		t.Fatal("the survivor does not lead")
	}

	waitAllSucceeded(t, d, n, 4*time.Minute)

	l, err := d.Client(t).ListWorkflows(context.Background(), "default", metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, wf := range l.Items {
		if c := reports[wf.Name]; c != 1 {
			t.Errorf("workflow %s reported %d times, want once", wf.Name, c)
		}
		for id, node := range wf.Status.Nodes {
			if node.Retries > 0 {
				t.Errorf("workflow %s node %s needed attempt %d: %s", wf.Name, id, node.Retries, node.Message)
			}
		}
	}
	if len(reports) != n {
		t.Errorf("%d workflows reported, want %d", len(reports), n)
	}
}
