package broker

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// The restart window: events posted while the broker is started and closed
// again and again on the same data dir. Each POST is answered 202 or not
// (503, or no answer while it is down); every event answered 202 is
// delivered exactly once, an event never answered 202 is never delivered,
// and a sender's retry with the same source and id (after a 503, or after
// a 202 it did not trust) makes no second copy, also across restarts.
func TestRestartWindowExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	sub, dls := newSink(t), newSink(t)

	var cur atomic.Pointer[string]
	prod := startProducers(&cur)
	const restarts = 6
	for i := range restarts {
		b := startHealBroker(t, dir, sub, dls)
		u := b.URL()
		cur.Store(&u)
		time.Sleep(300 * time.Millisecond)
		// Posts in flight while it closes get their answer or none.
		if err := b.Close(); err != nil {
			t.Fatalf("close broker (restart %d): %v", i, err)
		}
		cur.Store(nil)
	}
	accepted, refused := prod.stop()

	b := startHealBroker(t, dir, sub, dls)
	defer b.Close()
	// Half of the refused events are retried by their sender; the other
	// half are given up, and must never be delivered.
	retried, abandoned := 0, 0
	n := 0
	for id := range refused {
		n++
		if n%2 == 1 {
			abandoned++
			continue
		}
		if code, body, _ := postID(b.URL(), id); code != http.StatusAccepted {
			t.Fatalf("retry of %s: %d %s", id, code, body)
		}
		delete(refused, id)
		accepted[id] = true
		retried++
	}
	// A sender that did not trust a 202 sends again: no second copy.
	resent := 0
	resentIDs := map[string]bool{}
	for id := range accepted {
		resentIDs[id] = true
		if resent == 20 {
			break
		}
		if code, body, _ := postID(b.URL(), id); code != http.StatusAccepted {
			t.Fatalf("resend of %s: %d %s", id, code, body)
		}
		resent++
	}
	t.Logf("%d restarts: %d events accepted, %d refused and retried, %d refused and given up, %d accepted ones sent again", restarts, len(accepted)-retried, retried, abandoned, resent)
	if len(accepted) < 50 {
		t.Fatalf("only %d events accepted: the test did not exercise the broker", len(accepted))
	}
	waitFor(t, 20*time.Second, fmt.Sprintf("%d accepted events delivered", len(accepted)), func() bool {
		for id := range accepted {
			if sub.count(id) == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(1500 * time.Millisecond)
	got := sub.snapshot()
	bad := 0
	for _, id := range sortedKeys(got) {
		switch {
		case isRefused(refused, id):
			t.Errorf("event %s was never answered 202 but was delivered %d time(s)", id, got[id])
			bad++
		case got[id] != 1:
			t.Errorf("event %s delivered %d times, want once (resent: %v)", id, got[id], resentIDs[id])
			bad++
		}
		if bad > 20 {
			t.Fatal("more than 20 wrong deliveries; stopping")
		}
	}
	if n := dls.total(); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
}

// An event the store wrote after its publish's deadline (its ack lost, the
// store too slow: the producer was answered 503) is never delivered, and
// the producer's retry of it is stored anew and delivered once.
func TestRestartLateCopyNotDelivered(t *testing.T) {
	sub, dls := newSink(t), newSink(t)
	b := startHealBroker(t, t.TempDir(), sub, dls)
	defer b.Close()

	ev := newTestEvent("late-1")
	nh, data, err := encodeEvent(context.Background(), &ev, nil)
	if err != nil {
		t.Fatal(err)
	}
	nh.Set(msgIDHeader, eventMsgID(ev.Source(), ev.ID()))
	// As the store writes a publish it no longer waits for.
	nh.Set(deadlineHeader, fmt.Sprint(time.Now().Add(-time.Second).UnixNano()))
	if _, err := b.store.js.PublishMsg(context.Background(), &nats.Msg{Subject: subject("ns", "default"), Data: data, Header: nh}); err != nil {
		t.Fatalf("store the late copy: %v", err)
	}
	// A control event with the same path, in time, is delivered.
	if code, body, _ := postID(b.URL(), "in-time"); code != http.StatusAccepted {
		t.Fatalf("post: %d %s", code, body)
	}
	waitFor(t, 5*time.Second, "the event in time", func() bool { return sub.count("in-time") == 1 })
	time.Sleep(time.Second)
	if n := sub.count("late-1"); n != 0 {
		t.Fatalf("the late copy was delivered %d time(s); its producer was answered 503", n)
	}
	for range 2 {
		if code, body, _ := postID(b.URL(), "late-1"); code != http.StatusAccepted {
			t.Fatalf("retry of late-1: %d %s", code, body)
		}
	}
	waitFor(t, 5*time.Second, "the retried event", func() bool { return sub.count("late-1") >= 1 })
	time.Sleep(time.Second)
	if n := sub.count("late-1"); n != 1 {
		t.Errorf("the retried event was delivered %d times, want once", n)
	}
}

// producers post events with ids of their own to whichever broker URL is
// current (none while it restarts), four at a time, until stopped.
type producers struct {
	mu sync.Mutex
	// accepted are the ids answered 202; refused maps the others to their
	// answer: 503, or 0 for none (no broker, the connection refused, or
	// cut by a kill: then the event may be stored, and only a retry makes
	// it certain).
	accepted map[string]bool
	refused  map[string]int
	done     chan struct{}
	wg       sync.WaitGroup
}

func startProducers(cur *atomic.Pointer[string]) *producers {
	p := &producers{accepted: map[string]bool{}, refused: map[string]int{}, done: make(chan struct{})}
	for pr := range 4 {
		p.wg.Go(func() {
			for k := 0; ; k++ {
				select {
				case <-p.done:
					return
				default:
				}
				id := fmt.Sprintf("p%d-%d", pr, k)
				url := cur.Load()
				code := 0
				if url != nil {
					code, _, _ = postID(*url, id)
				}
				p.mu.Lock()
				if code == http.StatusAccepted {
					p.accepted[id] = true
				} else {
					p.refused[id] = code
				}
				p.mu.Unlock()
				if code == 0 {
					time.Sleep(5 * time.Millisecond)
				}
			}
		})
	}
	return p
}

// stop ends the producers and returns what they saw.
func (p *producers) stop() (accepted map[string]bool, refused map[string]int) {
	close(p.done)
	p.wg.Wait()
	return p.accepted, p.refused
}

func isRefused(refused map[string]int, id string) bool {
	_, ok := refused[id]
	return ok
}
