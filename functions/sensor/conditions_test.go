package sensor_test

import (
	"testing"
	"time"
)

// (a || b) && c through the real broker: a waits in the status, a later a
// replaces it (the latest event wins), c fires with both, and the state
// clears; then b and c fire again.
func TestConditionsLatestEventWinsAndStateClears(t *testing.T) {
	hook := newEndpoint(t)
	r := start(t, `
metadata: {name: cond}
spec:
  dependencies:
  - {name: a, eventSourceName: src, eventName: a}
  - {name: b, eventSourceName: src, eventName: b}
  - {name: c, eventSourceName: src, eventName: c}
  triggers:
  - template:
      name: fire
      conditions: "(a || b) && c"
      http:
        url: `+hook.URL+`
        payload:
        - {src: {dependencyName: a, dataKey: num, value: none}, dest: a}
        - {src: {dependencyName: b, dataKey: num, value: none}, dest: b}
        - {src: {dependencyName: c, dataKey: num}, dest: c}
`, rigOptions{})

	send(t, "src", "a", "a-1", map[string]int{"num": 1})
	waitFor(t, "a to wait", func() bool { return r.waiting(t, "fire")["a"] == "a-1" })
	send(t, "src", "a", "a-2", map[string]int{"num": 2})
	waitFor(t, "the second a to replace the first", func() bool { return r.waiting(t, "fire")["a"] == "a-2" })
	hook.none(t, 200*time.Millisecond)

	send(t, "src", "c", "c-1", map[string]int{"num": 3})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(r.logs)
		}
	})
	got := jsonBody(t, hook.next(t))
	if got["a"] != "2" || got["b"] != "none" || got["c"] != "3" {
		t.Fatalf("fired with %v, want a=2 (the latest a), b=none, c=3", got)
	}
	waitFor(t, "the state to clear", func() bool { return len(r.waiting(t, "fire")) == 0 })

	send(t, "src", "b", "b-1", map[string]int{"num": 4})
	waitFor(t, "b to wait", func() bool { return r.waiting(t, "fire")["b"] == "b-1" })
	send(t, "src", "c", "c-2", map[string]int{"num": 5})
	got = jsonBody(t, hook.next(t))
	if got["a"] != "none" || got["b"] != "4" || got["c"] != "5" {
		t.Fatalf("fired with %v, want a=none, b=4, c=5", got)
	}
	hook.none(t, 200*time.Millisecond)
	st := r.status(t)
	if len(st.Triggers) != 1 || st.Triggers[0].LastFiredAt == nil || len(st.Triggers[0].Pending) != 0 {
		t.Fatalf("status after firing: %+v", st.Triggers)
	}
}
