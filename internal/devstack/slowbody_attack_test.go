//go:build unix

package devstack

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zeroflow-dev/zeroflow/internal/httpbound"
	"github.com/zeroflow-dev/zeroflow/internal/slowsenders"
)

// The slow-body attack of issue 13 on `zeroflow dev`: 1,000 connections
// trickle their bodies to a webhook's port while real webhooks are sent.
// In dev a webhook sits behind its function runner, whose slots are
// Knative's concurrency (Target × MaxScale, 50 here so that 1,000 slow
// senders would take them all many times over): before the body was
// buffered ahead of the runner, slow senders held every slot and every
// real webhook waited for the whole attack. Now each real one is answered
// within 100 ms and each slow one 408 after the default body grace time.
func TestSlowBodyAttackOnTheDevStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the API server")
	}
	const (
		slowConns  = 1000
		maxLatency = 100 * time.Millisecond
	)
	grace := httpbound.DefaultBodyGrace
	slowsenders.NeedOpenFiles(t, 2500)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	l.Close()
	dir := t.TempDir()
	doc := fmt.Sprintf(`apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: shop}
spec:
  webhook:
    orders: {port: "%s", endpoint: /orders, method: POST}
`, port)
	if err := os.WriteFile(filepath.Join(dir, "events.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Start(t.Context(), Options{Paths: []string{dir}, DataDir: t.TempDir(), BrokerAddr: "127.0.0.1:0",
		Scaling: Scaling{Target: 10, MaxScale: 5}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	post := func(n int) (time.Duration, error) {
		start := time.Now()
		resp, err := client.Post("http://"+addr+"/orders", "application/json", strings.NewReader(fmt.Sprintf(`{"order":%d}`, n)))
		took := time.Since(start)
		if err != nil {
			return took, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return took, fmt.Errorf("%d %s", resp.StatusCode, body)
		}
		return took, nil
	}
	// The webhook's first instance starts with the first request.
	warm := time.Now().Add(30 * time.Second)
	for {
		if _, err := post(-1); err == nil {
			break
		} else if time.Now().After(warm) {
			t.Fatalf("webhook not answering 200 within 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	attack := slowsenders.Start(t, addr, "/orders", slowConns, 2*time.Second, grace+20*time.Second)

	var latencies []time.Duration
	underAttack := 0
	collected := 0
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(grace + 30*time.Second)
	for n := 0; collected < slowConns; n++ {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d slow senders answered by %v", collected, slowConns, grace+30*time.Second)
		}
		wasOpen := attack.Open()
		took, err := post(n)
		if err != nil {
			t.Errorf("webhook %d after %v: %v", n, took, err)
		}
		latencies = append(latencies, took)
		if wasOpen >= slowConns && attack.Open() >= slowConns {
			underAttack++
		}
	drain:
		for {
			select {
			case r := <-attack.Results:
				collected++
				switch {
				case r.Err != nil:
					t.Error(r.Err)
				case r.Status != http.StatusRequestTimeout:
					t.Errorf("slow sender answered %d after %v, want 408", r.Status, r.Took)
				case r.Took < grace-100*time.Millisecond || r.Took > grace+5*time.Second:
					t.Errorf("slow sender answered 408 after %v, want about the grace time %v", r.Took, grace)
				}
			case <-tick.C:
				break drain
			}
		}
	}
	slices.Sort(latencies)
	p := func(q float64) time.Duration { return latencies[int(q*float64(len(latencies)-1))] }
	t.Logf("%d real webhooks (%d with all %d slow connections open): p50 %v, p99 %v, max %v",
		len(latencies), underAttack, slowConns, p(0.5).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), latencies[len(latencies)-1].Round(10*time.Microsecond))
	if worst := latencies[len(latencies)-1]; worst > maxLatency {
		t.Errorf("slowest real webhook took %v, want at most %v", worst, maxLatency)
	}
	if underAttack < 50 {
		t.Errorf("only %d real webhooks were sent while all %d slow connections were open; the attack did not hold", underAttack, slowConns)
	}
}
