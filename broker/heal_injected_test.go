package broker

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The healing with an injected storage failure, for machines where no
// small file system can be mounted: the probe reports a failure and
// JetStream turns itself off, as it does when it runs out of resources.
// The ingress answers 503 with the reason at once, /healthz and /readyz
// say 503; once the failure ends JetStream is restarted in the running
// broker and every event accepted before or after is delivered once.
func TestHealInjectedStorageFailure(t *testing.T) {
	sub, dls := newSink(t), newSink(t)
	b := startHealBroker(t, t.TempDir(), sub, dls)
	defer b.Close()

	accepted := map[string]bool{}
	for i := range 5 {
		id := fmt.Sprintf("before-%d", i)
		if code, body, _ := postID(b.URL(), id); code != http.StatusAccepted {
			t.Fatalf("post %s: %d %s", id, code, body)
		}
		accepted[id] = true
	}

	b.heal.mu.Lock()
	b.heal.inject = errors.New("injected storage failure")
	b.heal.mu.Unlock()
	// What JetStream does on its own when it runs out of resources.
	if err := b.store.ns.ShutdownJetStream(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*healInterval, "the broker to report the failure", func() bool { return b.Healthy() != nil })
	for _, path := range []string{"/healthz", "/readyz"} {
		code, body := getStatus(t, b.URL()+path)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "injected storage failure") {
			t.Errorf("GET %s during the failure: %d %q, want 503 with the reason", path, code, body)
		}
	}
	refused := map[string]bool{}
	for i := range 5 {
		id := fmt.Sprintf("during-%d", i)
		code, body, took := postID(b.URL(), id)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "injected storage failure") {
			t.Errorf("post %s during the failure: %d %q, want 503 with the reason", id, code, body)
		}
		if took > time.Second {
			t.Errorf("post %s took %v, want an answer at once", id, took)
		}
		refused[id] = true
	}

	b.heal.mu.Lock()
	b.heal.inject = nil
	b.heal.mu.Unlock()
	waitFor(t, 5*time.Second, "the broker to heal", func() bool { return b.Healthy() == nil })
	if b.heal.restartCount() < 1 {
		t.Errorf("healed without restarting JetStream, which was off")
	}
	for i := range 5 {
		id := fmt.Sprintf("after-%d", i)
		if code, body, _ := postID(b.URL(), id); code != http.StatusAccepted {
			t.Fatalf("post %s after healing: %d %s", id, code, body)
		}
		accepted[id] = true
	}
	waitFor(t, 10*time.Second, "every accepted event delivered", func() bool {
		for id := range accepted {
			if sub.count(id) == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(time.Second)
	got := sub.snapshot()
	for _, id := range sortedKeys(got) {
		if refused[id] {
			t.Errorf("event %s was answered 503 but delivered", id)
		} else if got[id] != 1 {
			t.Errorf("event %s delivered %d times, want once", id, got[id])
		}
	}
	if n := dls.total(); n != 0 {
		t.Errorf("%d dead letters (%v), want none", n, dls.reasons)
	}
}
