package sensor_test

import (
	"sync/atomic"
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

// An OR of dependencies needs no memory: each event fires by itself and
// the status holds nothing.
func TestOrConditionsFireAtOnceWithoutState(t *testing.T) {
	hook := newEndpoint(t)
	r := start(t, `
metadata: {name: either}
spec:
  dependencies:
  - {name: a, eventSourceName: src, eventName: a}
  - {name: b, eventSourceName: src, eventName: b}
  triggers:
  - template:
      name: any
      conditions: a || b
      http:
        url: `+hook.URL+`
        payload:
        - {src: {dependencyName: a, dataKey: num, value: none}, dest: a}
        - {src: {dependencyName: b, dataKey: num, value: none}, dest: b}
`, rigOptions{})
	send(t, "src", "a", "a-1", map[string]int{"num": 1})
	if got := jsonBody(t, hook.next(t)); got["a"] != "1" || got["b"] != "none" {
		t.Errorf("a fired with %v", got)
	}
	send(t, "src", "b", "b-1", map[string]int{"num": 2})
	if got := jsonBody(t, hook.next(t)); got["a"] != "none" || got["b"] != "2" {
		t.Errorf("b fired with %v", got)
	}
	if st := r.status(t); len(st.Triggers) != 0 {
		t.Errorf("an OR trigger wrote state: %+v", st.Triggers)
	}
}

// conditionsReset clears what waits at the times of its schedule, in its
// time zone: an a from 10:30 is gone after 11:00, so a b at 11:05 waits
// alone; an a at 11:10 then fires with that b.
func TestConditionsResetByTimeInATimeZone(t *testing.T) {
	seoul, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Pointer[time.Time]
	set := func(hh, mm int) {
		at := time.Date(2026, 4, 16, hh, mm, 0, 0, seoul)
		clock.Store(&at)
	}
	set(10, 30)
	hook := newEndpoint(t)
	r := start(t, `
metadata: {name: reset}
spec:
  dependencies:
  - {name: a, eventSourceName: src, eventName: a}
  - {name: b, eventSourceName: src, eventName: b}
  triggers:
  - template:
      name: pair
      conditions: a && b
      conditionsReset:
      - byTime: {cron: "0 * * * *", timezone: Asia/Seoul}
      http:
        url: `+hook.URL+`
        payload:
        - {src: {dependencyName: a, contextKey: id}, dest: a}
        - {src: {dependencyName: b, contextKey: id}, dest: b}
`, rigOptions{now: func() time.Time { return *clock.Load() }})
	send(t, "src", "a", "a-1030", map[string]int{})
	waitFor(t, "a to wait", func() bool { return r.waiting(t, "pair")["a"] == "a-1030" })
	set(11, 5)
	send(t, "src", "b", "b-1105", map[string]int{})
	waitFor(t, "b to wait alone", func() bool {
		w := r.waiting(t, "pair")
		return w["b"] == "b-1105" && w["a"] == ""
	})
	hook.none(t, 200*time.Millisecond)
	st := r.status(t)
	if at := st.Triggers[0].LastResetAt; at == nil || !at.Time.Equal(time.Date(2026, 4, 16, 11, 0, 0, 0, seoul)) {
		t.Errorf("lastResetAt %v, want 11:00 in Seoul", at)
	}
	set(11, 10)
	send(t, "src", "a", "a-1110", map[string]int{})
	if got := jsonBody(t, hook.next(t)); got["a"] != "a-1110" || got["b"] != "b-1105" {
		t.Errorf("fired with %v", got)
	}
}
