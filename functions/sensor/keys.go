package sensor

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"
)

// eventKey identifies an event: CloudEvents makes source and id unique
// together, so a redelivery has the same key.
func eventKey(ev event.Event) string {
	sum := sha256.Sum256([]byte(ev.Source() + "\x00" + ev.ID()))
	return hex.EncodeToString(sum[:8])
}

// firingKey identifies a set of events by dependency.
func firingKey(keys map[string]string) string {
	names := make([]string, 0, len(keys))
	for n := range keys {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n + "=" + keys[n] + "\n")
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:10])
}

// recentEvents remembers, per trigger, the keys of the events that fired
// stateless triggers lately, so that a redelivery to the same instance
// does not fire them again. It is bounded: the oldest keys are forgotten.
type recentEvents struct {
	mu    sync.Mutex
	limit int
	seen  map[string]bool
	order []string
}

func newRecentEvents(limit int) *recentEvents {
	return &recentEvents{limit: limit, seen: map[string]bool{}}
}

// claim records the key and reports whether it was new, so that of two
// deliveries of one event that arrive together only one fires.
func (r *recentEvents) claim(trigger, key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := trigger + "\x00" + key
	if r.seen[k] {
		return false
	}
	r.seen[k] = true
	r.order = append(r.order, k)
	if len(r.order) > r.limit {
		delete(r.seen, r.order[0])
		r.order = r.order[1:]
	}
	return true
}

// release forgets a claim whose firing failed, so that a redelivery fires.
func (r *recentEvents) release(trigger, key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := trigger + "\x00" + key
	if r.seen[k] {
		delete(r.seen, k)
		r.order = slices.DeleteFunc(r.order, func(o string) bool { return o == k })
	}
}
