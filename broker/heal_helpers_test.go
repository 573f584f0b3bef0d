package broker

// Helpers of the storage-failure and restart tests (heal_*_test.go,
// restart_*_test.go): a broker on a given data dir with one Trigger and a
// dead-letter sink, both counting subscribers on loopback, and a producer.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// sink is a subscriber that answers 202 and counts each event id.
type sink struct {
	URL string
	mu  sync.Mutex
	got map[string]int
	// reasons are the knativeerrordata of dead letters, by id.
	reasons map[string]string
}

func newSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{got: map[string]int{}, reasons: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := binding.ToEvent(r.Context(), cehttp.NewMessageFromHttpRequest(r))
		if err != nil {
			http.Error(w, "not a CloudEvent: "+err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.got[ev.ID()]++
		if v, ok := ev.Extensions()["knativeerrordata"]; ok {
			s.reasons[ev.ID()] = fmt.Sprint(v)
		}
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func (s *sink) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[id]
}

func (s *sink) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.got {
		n += c
	}
	return n
}

func (s *sink) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.got))
	for k, v := range s.got {
		out[k] = v
	}
	return out
}

// healTestConfig is broker ns/default with trigger ns/t1 delivering to sub,
// retrying 3 times, dead letters to dls.
func healTestConfig(sub, dls string) Config {
	must := func(s string) *apis.URL {
		u, err := apis.ParseURL(s)
		if err != nil {
			panic(err)
		}
		return u
	}
	retry := int32(3)
	delay := "PT0.1S"
	linear := eventingduckv1.BackoffPolicyLinear
	return Config{
		Brokers: []eventingv1.Broker{{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default"}}},
		Triggers: []eventingv1.Trigger{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "t1"},
			Spec: eventingv1.TriggerSpec{
				Broker:     "default",
				Subscriber: duckv1.Destination{URI: must(sub)},
				Delivery: &eventingduckv1.DeliverySpec{
					Retry: &retry, BackoffPolicy: &linear, BackoffDelay: &delay,
					DeadLetterSink: &duckv1.Destination{URI: must(dls)},
				},
			},
		}},
	}
}

// startHealBroker starts a broker on dir serving healTestConfig; the
// caller closes it.
func startHealBroker(t *testing.T, dir string, sub, dls *sink) *Broker {
	t.Helper()
	b, err := Start(context.Background(), Options{DataDir: dir})
	if err != nil {
		t.Fatalf("start broker on %s: %v", dir, err)
	}
	if err := b.Apply(context.Background(), healTestConfig(sub.URL, dls.URL)); err != nil {
		_ = b.Close()
		t.Fatalf("apply: %v", err)
	}
	return b
}

// healClient is the producer; its timeout is above publishTimeout, so a
// 503 from a store that does not answer is seen as such.
var healClient = &http.Client{Timeout: publishTimeout + 5*time.Second}

// postID posts a binary-mode event with this id to the broker ns/default
// at base; it returns the status (0 when there was no answer) and body.
func postID(base, id string) (int, string, time.Duration) {
	req, err := http.NewRequest(http.MethodPost, base+"/ns/default", strings.NewReader(`{"n":"`+id+`"}`))
	if err != nil {
		return 0, err.Error(), 0
	}
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", id)
	req.Header.Set("Ce-Type", "dev.example.heal")
	req.Header.Set("Ce-Source", "/heal-test")
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := healClient.Do(req)
	took := time.Since(start)
	if err != nil {
		return 0, err.Error(), took
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body)), took
}

func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := healClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a new dir, or skips the test
// when this machine does not allow it (not root, or no mount permission in
// a container).
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("disk-full test needs root to mount a small tmpfs; TestHealInjectedStorageFailure covers the healing without one")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s); TestHealInjectedStorageFailure covers the healing without one", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file in dir until its file system is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := dir + "/filler"
	f, err := os.Create(p)
	if err != nil {
		t.Fatalf("create filler: %v", err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !strings.Contains(err.Error(), "no space left") {
				t.Fatalf("fill %s: %v", dir, err)
			}
			return p
		}
	}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// newTestEvent is the event postID sends, for in-process publishes.
func newTestEvent(id string) event.Event {
	ev := event.New()
	ev.SetID(id)
	ev.SetType("dev.example.heal")
	ev.SetSource("/heal-test")
	_ = ev.SetData("application/json", []byte(`{"n":"`+id+`"}`))
	return ev
}
