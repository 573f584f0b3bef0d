package broker

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// A real full disk: the store on a 16 MiB tmpfs that a filler file fills.
// While it is full every event is answered 503 at once with the reason, and
// /healthz and /readyz say 503; an event that reaches JetStream itself (as
// one arriving before the next probe does) breaks JetStream's stream as on
// a real disk. Once the filler is removed the broker heals by itself (no
// restart of the process or of Start), accepts again, and every event
// that got a 202, before, during or after, is delivered exactly once;
// nothing is dead-lettered.
func TestDiskFullHeals(t *testing.T) {
	dir := mountTmpfs(t, 16<<20)
	sub, dls := newSink(t), newSink(t)
	b := startHealBroker(t, dir, sub, dls)
	defer b.Close()

	accepted := map[string]bool{}
	for i := range 10 {
		id := fmt.Sprintf("before-%d", i)
		if code, body, _ := postID(b.URL(), id); code != http.StatusAccepted {
			t.Fatalf("post %s before the disk is full: %d %s", id, code, body)
		}
		accepted[id] = true
	}

	filler := fill(t, dir)
	waitFor(t, 3*healInterval, "the broker to report the full disk", func() bool { return b.Healthy() != nil })
	if err := b.Healthy(); !strings.Contains(err.Error(), "no space left") {
		t.Errorf("Healthy() = %v, want the file system's reason", err)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		code, body := getStatus(t, b.URL()+path)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "no space left") {
			t.Errorf("GET %s while the disk is full: %d %q, want 503 with the reason", path, code, body)
		}
	}
	refused := map[string]bool{}
	for i := range 10 {
		id := fmt.Sprintf("full-%d", i)
		code, body, took := postID(b.URL(), id)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "no space left") || !strings.Contains(body, "nothing was stored") {
			t.Errorf("post %s while the disk is full: %d %q, want 503 with the reason", id, code, body)
		}
		if took > time.Second {
			t.Errorf("post %s while the disk is full took %v: the broker knows the store is broken and answers at once", id, took)
		}
		refused[id] = true
	}

	// Past the supervisor's gate, into JetStream on the full disk.
	var jsBroke bool
	for i := range 40 {
		id := fmt.Sprintf("direct-%d", i)
		ev := event.New()
		ev.SetID(id)
		ev.SetType("dev.example.heal")
		ev.SetSource("/heal-test")
		nh, data, err := encodeEvent(context.Background(), &ev, nil)
		if err != nil {
			t.Fatal(err)
		}
		nh.Set(msgIDHeader, eventMsgID(ev.Source(), ev.ID()))
		perr := b.store.publish(context.Background(), subject("ns", "default"), append(data, make([]byte, 256<<10)...), nh)
		if perr == nil {
			// Stored: it must be delivered like any accepted event.
			accepted[id] = true
			continue
		}
		t.Logf("JetStream on the full disk: %v", perr)
		refused[id] = true
		jsBroke = true
		break
	}
	if !jsBroke {
		t.Fatalf("40 events of 256 KiB were stored on a full 16 MiB file system")
	}
	waitFor(t, 3*healInterval, "JetStream's own health to report the write error", func() bool { return jetStreamHealth(b.store.ns) != nil })
	t.Logf("JetStream health on the full disk: %v", jetStreamHealth(b.store.ns))

	freed := time.Now()
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the broker to heal", func() bool { return b.Healthy() == nil })
	t.Logf("healed %v after space returned, %d JetStream restart(s)", time.Since(freed).Round(time.Millisecond), b.heal.restartCount())
	if b.heal.restartCount() < 1 {
		t.Errorf("JetStream was not restarted, yet its stream had a write error")
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := getStatus(t, b.URL()+path); code != http.StatusOK {
			t.Errorf("GET %s after space returned: %d %q, want 200", path, code, body)
		}
	}
	for i := range 10 {
		id := fmt.Sprintf("after-%d", i)
		if code, body, _ := postID(b.URL(), id); code != http.StatusAccepted {
			t.Fatalf("post %s after space returned: %d %s", id, code, body)
		}
		accepted[id] = true
	}
	waitFor(t, 10*time.Second, fmt.Sprintf("%d accepted events delivered", len(accepted)), func() bool {
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
		switch {
		case refused[id]:
			t.Errorf("event %s was answered 503 but delivered %d time(s)", id, got[id])
		case got[id] != 1:
			t.Errorf("event %s delivered %d times, want once", id, got[id])
		}
	}
	if n := dls.total(); n != 0 {
		t.Errorf("%d dead letters (%v), want none: every accepted event reached its subscriber", n, dls.reasons)
	}
}
