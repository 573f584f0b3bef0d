package broker

import (
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"
)

// The store dir removed under a running broker: JetStream would go on
// writing to its open, deleted files and report nothing. The supervisor
// sees the files gone, makes the dir again and restarts JetStream on it
// with the streams and consumers created again; events posted after that
// are accepted and delivered, with no restart of the broker.
func TestHealStoreDirRemoved(t *testing.T) {
	dir := t.TempDir()
	sub, dls := newSink(t), newSink(t)
	b := startHealBroker(t, dir, sub, dls)
	defer b.Close()
	if code, body, _ := postID(b.URL(), "before"); code != http.StatusAccepted {
		t.Fatalf("post before: %d %s", code, body)
	}
	waitFor(t, 5*time.Second, "the first event delivered", func() bool { return sub.count("before") == 1 })

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	removed := time.Now()
	waitFor(t, 5*time.Second, "JetStream restarted on a new store dir", func() bool {
		return b.heal.restartCount() >= 1 && b.heal.current() == nil
	})
	t.Logf("healed %v after the dir was removed", time.Since(removed).Round(time.Millisecond))
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("store dir not made again: %v", err)
	}
	for i := range 5 {
		id := fmt.Sprintf("after-%d", i)
		if code, body, _ := postID(b.URL(), id); code != http.StatusAccepted {
			t.Fatalf("post %s after the dir was made again: %d %s", id, code, body)
		}
	}
	waitFor(t, 10*time.Second, "the events after delivered", func() bool {
		for i := range 5 {
			if sub.count(fmt.Sprintf("after-%d", i)) != 1 {
				return false
			}
		}
		return true
	})
	if n := dls.total(); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
}
