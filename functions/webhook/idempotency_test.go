package webhook_test

import (
	"strings"
	"testing"
)

// A caller that sends an Idempotency-Key (or X-Request-Id) sends one
// event however often it retries: the id is derived from the key, and the
// real broker stores the same source and id once. Without a key every
// request is its own event, as in Argo.
func TestIdempotencyKeyMakesOneEvent(t *testing.T) {
	f := setup(t, "")
	for range 3 {
		if code, msg := f.do(t, "POST", "/workflow-a", "application/json", `{"run": 1}`, "Idempotency-Key", "order-42"); code != 200 {
			t.Fatalf("%d %q", code, msg)
		}
	}
	e := f.next(t)
	if !strings.HasPrefix(e.ID(), "k-") {
		t.Errorf("id %q is not derived from the key", e.ID())
	}
	f.none(t)

	if code, msg := f.do(t, "POST", "/workflow-a", "application/json", `{"run": 1}`, "X-Request-Id", "order-42"); code != 200 {
		t.Fatalf("%d %q", code, msg)
	}
	if e2 := f.next(t); e2.ID() == e.ID() {
		t.Errorf("X-Request-Id and Idempotency-Key of the same value share the id %q", e.ID())
	}
	f.none(t)

	for range 2 {
		if code, msg := f.do(t, "POST", "/workflow-a", "application/json", `{"run": 2}`); code != 200 {
			t.Fatalf("%d %q", code, msg)
		}
	}
	a, b := f.next(t), f.next(t)
	if a.ID() == b.ID() {
		t.Errorf("two requests without a key share the id %q", a.ID())
	}
}
