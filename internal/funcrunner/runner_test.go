package funcrunner_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/funcrunner"
)

// The test binary is also the function program of the process tests: with
// FUNCRUNNER_HELPER set it serves on $PORT like any function.
func TestMain(m *testing.M) {
	if os.Getenv("FUNCRUNNER_HELPER") != "" {
		sdk.MainHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/crash" {
				os.Exit(3)
			}
			fmt.Fprintf(w, "pid %d", os.Getpid())
		}))
		return
	}
	os.Exit(m.Run())
}

// counting serves in process and counts the instances started.
func counting(started *atomic.Int64, delay time.Duration, h http.Handler) funcrunner.Starter {
	inner := funcrunner.InProcess(func(ctx context.Context, l net.Listener) error {
		return sdk.ServeHTTP(ctx, h, sdk.Options{Listener: l, DrainTimeout: time.Second})
	})
	return func(ctx context.Context) (funcrunner.Instance, error) {
		started.Add(1)
		time.Sleep(delay)
		return inner(ctx)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestScaleFromZeroHoldsTheFirstRequestAndScalesBackToZero(t *testing.T) {
	var started atomic.Int64
	r := funcrunner.New(funcrunner.Config{
		Name:       "hello",
		Start:      counting(&started, 200*time.Millisecond, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hi") })),
		IdleWindow: 300 * time.Millisecond,
	})
	defer r.Close()
	srv := httptest.NewServer(r)
	defer srv.Close()

	if r.Instances() != 0 || started.Load() != 0 {
		t.Fatalf("an instance runs before any request")
	}
	if code, body := get(t, srv.URL); code != 200 || body != "hi" {
		t.Fatalf("first request: %d %q (it must be held while the instance starts)", code, body)
	}
	if r.Instances() != 1 || started.Load() != 1 {
		t.Fatalf("instances %d, started %d", r.Instances(), started.Load())
	}
	get(t, srv.URL)
	if started.Load() != 1 {
		t.Errorf("a warm instance was not reused: %d starts", started.Load())
	}
	waitFor(t, "scale to zero", func() bool { return r.Instances() == 0 })
	if code, _ := get(t, srv.URL); code != 200 || started.Load() != 2 {
		t.Errorf("after scaling to zero: %d, %d starts", code, started.Load())
	}
}

func TestABurstStartsInstancesUpToTheTargetAndMaxScale(t *testing.T) {
	var started, inflight, peak atomic.Int64
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		inflight.Add(-1)
		io.WriteString(w, "done")
	})
	r := funcrunner.New(funcrunner.Config{Name: "busy", Start: counting(&started, 0, h), Target: 2, MaxScale: 3, IdleWindow: time.Minute})
	defer r.Close()
	srv := httptest.NewServer(r)
	defer srv.Close()

	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(srv.URL)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	// 3 instances × target 2: six requests run, two wait for room.
	waitFor(t, "six requests in flight", func() bool { return inflight.Load() == 6 })
	time.Sleep(100 * time.Millisecond)
	if got := inflight.Load(); got != 6 || r.Instances() != 3 {
		t.Fatalf("in flight %d on %d instances, want 6 on 3", got, r.Instances())
	}
	close(release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("a request got %d", c)
		}
	}
	if started.Load() != 3 {
		t.Errorf("started %d instances, want 3", started.Load())
	}
}

func TestARequestWaitingForRoomGivesUpWithItsContext(t *testing.T) {
	var started atomic.Int64
	block := make(chan struct{})
	r := funcrunner.New(funcrunner.Config{Name: "one", Start: counting(&started, 0, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block })), Target: 1, MaxScale: 1})
	defer r.Close()
	srv := httptest.NewServer(r)
	defer srv.Close()
	defer close(block)
	go http.Get(srv.URL)
	waitFor(t, "the instance", func() bool { return r.Instances() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a request over MaxScale × Target: %v, want it to wait until its deadline", err)
	}
}

func TestAFailedStartIsTriedAgainForTheHeldRequest(t *testing.T) {
	var tries atomic.Int64
	ok := funcrunner.InProcess(func(ctx context.Context, l net.Listener) error {
		return sdk.ServeHTTP(ctx, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "up") }), sdk.Options{Listener: l})
	})
	r := funcrunner.New(funcrunner.Config{Name: "flaky", Start: func(ctx context.Context) (funcrunner.Instance, error) {
		if tries.Add(1) == 1 {
			return nil, errors.New("image not found")
		}
		return ok(ctx)
	}})
	defer r.Close()
	srv := httptest.NewServer(r)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	// The first start fails; the held request starts another and succeeds.
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(b) != "up" {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
}

func TestProcessInstancesStartStopAndARunawayCrashIsReplaced(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	var mu sync.Mutex
	r := funcrunner.New(funcrunner.Config{
		Name:       "proc",
		Start:      funcrunner.Process(funcrunner.ProcessConfig{Path: exe, Env: []string{"FUNCRUNNER_HELPER=1"}, Output: lockedWriter{&mu, &out}, DrainTimeout: 5 * time.Second}),
		IdleWindow: 500 * time.Millisecond,
	})
	defer r.Close()
	srv := httptest.NewServer(r)
	defer srv.Close()

	code, body := get(t, srv.URL)
	if code != 200 || !strings.HasPrefix(body, "pid ") || body == fmt.Sprintf("pid %d", os.Getpid()) {
		t.Fatalf("%d %q: want another process's answer", code, body)
	}
	first := body
	// The process crashes: the runner forgets it and starts another.
	get(t, srv.URL+"/crash")
	waitFor(t, "the crashed instance to be forgotten", func() bool { return r.Instances() == 0 })
	if _, again := get(t, srv.URL); again == first {
		t.Errorf("the crashed process still answers")
	}
	waitFor(t, "scale to zero", func() bool { return r.Instances() == 0 })
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
