package broker

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// An event the store handed out more often than its trigger's attempts,
// without this broker having seen one fail (claims that ran out while the
// store was down, acks lost in a restart: here, hand-outs nobody
// answered), is not dead-lettered with a made-up reason ("the subscriber's
// last failure was lost in a broker restart", as before): it gets one more
// real attempt, and reaches its subscriber.
func TestHealNoMadeUpDeadLetter(t *testing.T) {
	sub, dls := newSink(t), newSink(t)
	b := startHealBroker(t, t.TempDir(), sub, dls)
	defer b.Close()

	// Stop the trigger's worker, so that only this test takes events.
	b.mu.Lock()
	w := b.triggers["ns/t1"]
	w.stop()
	delete(b.triggers, "ns/t1")
	b.mu.Unlock()

	if code, body, _ := postID(b.URL(), "handed-out"); code != http.StatusAccepted {
		t.Fatalf("post: %d %s", code, body)
	}
	allowed := 1 + 3 // healTestConfig retries 3 times
	for i := range allowed {
		batch, err := w.consumer.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatalf("fetch %d: %v", i, err)
		}
		got := false
		for msg := range batch.Messages() {
			got = true
			// Handed out, no outcome: as a claim that ran out.
			if err := msg.Nak(); err != nil {
				t.Fatalf("nak: %v", err)
			}
		}
		if !got {
			t.Fatalf("fetch %d: no event (%v)", i, batch.Error())
		}
	}
	// The trigger's worker again, on the same durable consumer.
	if err := b.Apply(context.Background(), healTestConfig(sub.URL, dls.URL)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the event at its subscriber or its dead-letter sink", func() bool {
		return sub.count("handed-out")+dls.count("handed-out") > 0
	})
	time.Sleep(500 * time.Millisecond)
	if n := dls.count("handed-out"); n != 0 {
		t.Errorf("dead-lettered %d time(s) with reason %q, though the subscriber never failed", n, dls.reasons["handed-out"])
	}
	if n := sub.count("handed-out"); n != 1 {
		t.Errorf("the subscriber got it %d times, want once", n)
	}
}
