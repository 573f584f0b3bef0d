package sensor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/functions/sensor/trigger"
	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

// arrival is a dependency event as the sensor took it.
type arrival struct {
	dependency string
	event      event.Event
	key        string
	at         time.Time
}

// Bounds on what the status holds, far below etcd's 1.5 MB object limit.
const (
	// maxWaitingEvent is the largest event that can wait in a condition.
	maxWaitingEvent = 256 << 10
	// maxPending is the most firings that can wait to be done.
	maxPending = 16
	// maxRecentEvents is how many consumed event keys are remembered.
	maxRecentEvents = 256
)

// process runs one trigger for one arrival.
func (s *Sensor) process(ctx context.Context, t *compiledTrigger, in arrival) error {
	if t.stateless {
		return s.processStateless(ctx, t, in)
	}
	return s.processStateful(ctx, t, in)
}

// processStateless fires a trigger that this event satisfies by itself.
func (s *Sensor) processStateless(ctx context.Context, t *compiledTrigger, in arrival) error {
	if !s.recent.claim(t.name, in.key) {
		s.log.InfoContext(ctx, "event fired this trigger already; not again", "trigger", t.name, "event", in.event.ID())
		return nil
	}
	f := trigger.Firing{
		Key:    firingKey(map[string]string{in.dependency: in.key}),
		Events: map[string]event.Event{in.dependency: in.event},
	}
	err := s.fire(ctx, t, f)
	if err != nil && !trigger.IsPermanent(err) {
		s.recent.release(t.name, in.key)
	}
	return err
}

// processStateful records the event in the trigger's persisted state and,
// when the conditions hold, claims the firing in the same write, so that
// of several instances only one fires; then fires, then marks it done. A
// crash or a failure in between leaves the claim pending, and the
// redelivered event fires it again.
func (s *Sensor) processStateful(ctx context.Context, t *compiledTrigger, in arrival) error {
	waiting, err := s.dependencyStatus(ctx, in)
	if err != nil {
		if errors.Is(err, errTooLargeToWait) {
			return trigger.Permanent(fmt.Errorf("trigger %s: %w", t.name, err))
		}
		return fmt.Errorf("trigger %s: %w", t.name, err)
	}
	var claimed *v1alpha1.FiringStatus
	s.mu.Lock()
	err = s.store.mutate(ctx, func(st *v1alpha1.SensorStatus) (bool, error) {
		claimed = nil
		ts := triggerStatus(st, t.name)
		changed := s.applyResets(t, ts, in.at)
		for i := range ts.Pending {
			if slices.ContainsFunc(ts.Pending[i].Dependencies, func(d v1alpha1.DependencyStatus) bool { return d.EventKey == in.key }) {
				p := ts.Pending[i]
				claimed = &p
				return changed, nil
			}
		}
		if slices.Contains(ts.RecentEvents, in.key) {
			return changed, nil
		}
		if i := slices.IndexFunc(ts.Dependencies, func(d v1alpha1.DependencyStatus) bool { return d.Name == in.dependency }); i >= 0 {
			if ts.Dependencies[i].EventKey == in.key {
				return changed, nil
			}
			ts.Dependencies[i] = waiting // the latest event wins
		} else {
			ts.Dependencies = append(ts.Dependencies, waiting)
			sort.Slice(ts.Dependencies, func(a, b int) bool { return ts.Dependencies[a].Name < ts.Dependencies[b].Name })
		}
		holds, err := t.conditions.Eval(func(o expression.Operand) bool {
			return slices.ContainsFunc(ts.Dependencies, func(d v1alpha1.DependencyStatus) bool { return d.Name == o.Task })
		})
		if err != nil || !holds {
			return true, err
		}
		keys := map[string]string{}
		for _, d := range ts.Dependencies {
			keys[d.Name] = d.EventKey
			ts.RecentEvents = append(ts.RecentEvents, d.EventKey)
		}
		if n := len(ts.RecentEvents); n > maxRecentEvents {
			ts.RecentEvents = ts.RecentEvents[n-maxRecentEvents:]
		}
		f := v1alpha1.FiringStatus{Key: firingKey(keys), ClaimedAt: metav1.NewTime(in.at), Dependencies: ts.Dependencies}
		ts.Dependencies = nil
		ts.Pending = append(ts.Pending, f)
		if n := len(ts.Pending); n > maxPending {
			s.log.ErrorContext(ctx, "too many firings wait to be done; dropping the oldest", "trigger", t.name, "dropped", ts.Pending[0].Key)
			ts.Pending = ts.Pending[n-maxPending:]
		}
		claimed = &f
		return true, nil
	})
	s.mu.Unlock()
	if err != nil || claimed == nil {
		return err
	}
	firing, err := s.firingOf(ctx, claimed)
	if err != nil {
		if sdk.IsPermanentStatus(err) {
			return trigger.Permanent(fmt.Errorf("trigger %s: %w", t.name, err))
		}
		return fmt.Errorf("trigger %s: %w", t.name, err)
	}
	fireErr := s.fire(ctx, t, firing)
	if fireErr != nil && !trigger.IsPermanent(fireErr) && t.spec.IsAtLeastOnce() {
		return fireErr // stays pending; the broker delivers the event again
	}
	s.mu.Lock()
	err = s.store.mutate(ctx, func(st *v1alpha1.SensorStatus) (bool, error) {
		ts := triggerStatus(st, t.name)
		i := slices.IndexFunc(ts.Pending, func(p v1alpha1.FiringStatus) bool { return p.Key == claimed.Key })
		if i < 0 {
			return false, nil
		}
		ts.Pending = slices.Delete(ts.Pending, i, i+1)
		if fireErr == nil {
			now := metav1.NewTime(s.now())
			ts.LastFiredAt = &now
		}
		return true, nil
	})
	s.mu.Unlock()
	return errors.Join(fireErr, err)
}

// applyResets drops the dependencies that a conditionsReset time cleared
// since they were satisfied. It runs when the state is next touched; the
// sensor may be scaled to zero at the reset time itself.
func (s *Sensor) applyResets(t *compiledTrigger, ts *v1alpha1.TriggerStatus, now time.Time) bool {
	if len(t.resets) == 0 {
		return false
	}
	changed := false
	kept := ts.Dependencies[:0]
	for _, d := range ts.Dependencies {
		if at, reset := t.resetAfter(d.SatisfiedAt.Time, now); reset {
			changed = true
			if ts.LastResetAt == nil || at.After(ts.LastResetAt.Time) {
				r := metav1.NewTime(at)
				ts.LastResetAt = &r
			}
			continue
		}
		kept = append(kept, d)
	}
	ts.Dependencies = kept
	return changed
}

// tidy applies due resets and forgets the state of triggers that are gone.
func (s *Sensor) tidy(ctx context.Context) error {
	byName := map[string]*compiledTrigger{}
	for _, t := range s.triggers {
		byName[t.name] = t
	}
	return s.store.mutate(ctx, func(st *v1alpha1.SensorStatus) (bool, error) {
		changed := false
		kept := st.Triggers[:0]
		for i := range st.Triggers {
			ts := &st.Triggers[i]
			t, ok := byName[ts.Name]
			if !ok || t.stateless {
				changed = true
				continue
			}
			changed = s.applyResets(t, ts, s.now()) || changed
			kept = append(kept, *ts)
		}
		st.Triggers = kept
		return changed, nil
	})
}

// triggerStatus returns the trigger's entry, adding it in name order when
// missing.
func triggerStatus(st *v1alpha1.SensorStatus, name string) *v1alpha1.TriggerStatus {
	if i := slices.IndexFunc(st.Triggers, func(t v1alpha1.TriggerStatus) bool { return t.Name == name }); i >= 0 {
		return &st.Triggers[i]
	}
	i, _ := slices.BinarySearchFunc(st.Triggers, name, func(t v1alpha1.TriggerStatus, n string) int { return strings.Compare(t.Name, n) })
	st.Triggers = slices.Insert(st.Triggers, i, v1alpha1.TriggerStatus{Name: name})
	return &st.Triggers[i]
}

// errTooLargeToWait is an event that cannot be kept in the status.
var errTooLargeToWait = errors.New("too large to wait in the Sensor's status")

// dependencyStatus is the status entry of an event that waits for other
// dependencies. Its data, when above the offload threshold, is kept by
// reference (the same content-addressed object the event came in by), so
// that the status never holds a large payload; firingOf resolves it.
func (s *Sensor) dependencyStatus(ctx context.Context, in arrival) (v1alpha1.DependencyStatus, error) {
	ev := in.event.Clone()
	if err := sdk.OffloadEvent(ctx, s.offload, s.spec.Namespace, &ev); err != nil {
		if errors.Is(err, sdk.ErrNoOffloadStore) || errors.Is(err, sdk.ErrTooLargeToOffload) {
			err = fmt.Errorf("%w: %w", errTooLargeToWait, err)
		}
		return v1alpha1.DependencyStatus{}, fmt.Errorf("keep event %s: %w", in.event.ID(), err)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return v1alpha1.DependencyStatus{}, fmt.Errorf("encode event %s: %w", in.event.ID(), err)
	}
	if len(b) > maxWaitingEvent {
		return v1alpha1.DependencyStatus{}, fmt.Errorf("event %s is %d bytes (%w); an event that waits for other dependencies is kept in the Sensor's status and may be at most %d", in.event.ID(), len(b), errTooLargeToWait, maxWaitingEvent)
	}
	return v1alpha1.DependencyStatus{
		Name:        in.dependency,
		SatisfiedAt: metav1.NewTime(in.at),
		EventID:     in.event.ID(),
		EventKey:    in.key,
		Event:       apiextensionsv1.JSON{Raw: b},
	}, nil
}

// firingOf is the firing a status entry claimed, its events' offloaded
// data loaded back.
func (s *Sensor) firingOf(ctx context.Context, f *v1alpha1.FiringStatus) (trigger.Firing, error) {
	out := trigger.Firing{Key: f.Key, Events: map[string]event.Event{}}
	for _, d := range f.Dependencies {
		ev := event.New()
		if err := json.Unmarshal(d.Event.Raw, &ev); err != nil {
			return out, sdk.Status(http.StatusBadRequest, fmt.Errorf("stored event of %s: %w", d.Name, err))
		}
		if _, err := sdk.ResolveEvent(ctx, s.offload, s.spec.Namespace, &ev); err != nil {
			return out, fmt.Errorf("stored event of %s: %w", d.Name, err)
		}
		out.Events[d.Name] = ev
	}
	return out, nil
}
