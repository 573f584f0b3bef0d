package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// startBroker runs `zeroflow broker` and waits until its ingress listens.
func startBroker(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"broker"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "ingress listening") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("broker not ready within 60s")
	}
	return cmd
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestBrokerLosesNothingAcrossKill9 is the durability test: a broker
// process is killed with SIGKILL while 20,000 events stream in, restarted on
// the same data dir, and left to drain. Every event that got a 202 must
// reach the subscriber; duplicates are allowed and counted.
func TestBrokerLosesNothingAcrossKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the broker as a subprocess with 20,000 events")
	}
	const total = 20000
	bin := buildBinary(t)

	var (
		mu         sync.Mutex
		seen       = make(map[string]int, total)
		deliveries atomic.Int64
	)
	sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deliveries.Add(1)
		mu.Lock()
		seen[r.Header.Get("Ce-Id")]++
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sub.Close()

	dir := t.TempDir()
	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default, namespace: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: counter, namespace: default}
spec:
  broker: default
  subscriber: {uri: %s}
`, sub.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	args := []string{"--data-dir", filepath.Join(dir, "data"), "--addr", addr, "--config", config}
	proc := startBroker(t, bin, args...)

	var (
		accepted       sync.Map
		acceptedN      atomic.Int64
		acceptedAtKill int64
		killed         = make(chan struct{})
		restarted      = make(chan struct{})
	)
	ids := make(chan int, total)
	for i := range total {
		ids <- i
	}
	close(ids)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	url := "http://" + addr + "/default/default"
	var senders sync.WaitGroup
	for range 16 {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for i := range ids {
				id := fmt.Sprintf("evt-%05d", i)
				for {
					req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"n":`+fmt.Sprint(i)+`}`))
					req.Header.Set("Ce-Specversion", "1.0")
					req.Header.Set("Ce-Id", id)
					req.Header.Set("Ce-Source", "/durability")
					req.Header.Set("Ce-Type", "dev.zeroflow.test")
					req.Header.Set("Content-Type", "application/json")
					resp, err := client.Do(req)
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode == http.StatusAccepted {
							accepted.Store(id, true)
							acceptedN.Add(1)
							break
						}
					}
					// The broker is down (killed): wait for the restart, then
					// send again. A send that failed may have been stored too.
					select {
					case <-killed:
						<-restarted
					default:
						time.Sleep(10 * time.Millisecond)
					}
				}
			}
		}()
	}

	for acceptedN.Load() < total/3 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := proc.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	acceptedAtKill = acceptedN.Load()
	close(killed)
	_ = proc.Wait()
	proc = startBroker(t, bin, args...)
	close(restarted)
	defer func() {
		proc.Process.Signal(os.Interrupt)
		proc.Wait()
	}()
	senders.Wait()

	deadline := time.Now().Add(120 * time.Second)
	var lost []string
	for {
		lost = lost[:0]
		mu.Lock()
		accepted.Range(func(k, _ any) bool {
			if seen[k.(string)] == 0 {
				lost = append(lost, k.(string))
			}
			return true
		})
		mu.Unlock()
		if len(lost) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	duplicates := 0
	for _, n := range seen {
		duplicates += n - 1
	}
	unique := len(seen)
	mu.Unlock()
	t.Logf("accepted %d events (%d before the kill); subscriber saw %d distinct ids in %d deliveries: %d duplicates, %d lost",
		acceptedN.Load(), acceptedAtKill, unique, deliveries.Load(), duplicates, len(lost))
	if acceptedN.Load() != total {
		t.Errorf("accepted %d of %d events", acceptedN.Load(), total)
	}
	if len(lost) > 0 {
		t.Fatalf("%d events got a 202 and were never delivered, e.g. %v", len(lost), lost[:min(5, len(lost))])
	}
}
