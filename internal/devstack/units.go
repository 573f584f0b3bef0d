package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"sync"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"

	"github.com/zeroflow-dev/zeroflow/internal/funcrunner"
)

// unit is what one EventSource or Sensor runs, as its rendered Knative
// objects would on a cluster: its functions' listeners and runners, and
// the Triggers and addresses that route to them. It starts and stops as a
// whole, so that the watch of the API (reconcile.go) can replace one
// object's functions without touching the others'.
type unit struct {
	kind, namespace, name string
	// object is the EventSource or Sensor that runs, for render.InputOf.
	object any
	// generation is the object's metadata.generation that runs: a watch
	// event of the same generation (a status write, a resync) changes
	// nothing.
	generation int64
	triggers   []eventingv1.Trigger
	// addrs are the unit's Services' local addresses, by "namespace/name"
	// (see functions.addrs).
	addrs     map[string]*apis.URL
	endpoints []string
	listeners []net.Listener
	// start serves the unit's functions until ctx ends.
	start func(ctx context.Context, env *runEnv) error

	cancel context.CancelFunc
	// wg counts the unit's goroutines (servers, sources): stop waits for
	// them, so that its ports are free when it returns.
	wg sync.WaitGroup
	// runners are guarded by functions.mu.
	runners []*funcrunner.Runner
}

func newUnit(kind, namespace, name string, object any) *unit {
	return &unit{kind: kind, namespace: namespace, name: name, object: object, addrs: map[string]*apis.URL{}}
}

// unitKey names a unit as Start's Applied list names its object.
func unitKey(kind, namespace, name string) string { return kind + " " + namespace + "/" + name }

func (u *unit) key() string { return unitKey(u.kind, u.namespace, u.name) }

func (u *unit) listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	u.listeners = append(u.listeners, l)
	return l, nil
}

// listenURL opens a listener on a free port of host.
func (u *unit) listenURL(host string) (net.Listener, *apis.URL, error) {
	l, err := u.listen(net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, nil, err
	}
	addr, err := apis.ParseURL("http://" + l.Addr().String())
	if err != nil {
		return nil, nil, fmt.Errorf("listener address: %w", err)
	}
	return l, addr, nil
}

func (u *unit) closeListeners() {
	for _, l := range u.listeners {
		_ = l.Close()
	}
}

// goUnit runs fn as one of the stack's goroutines, and of u's when u is
// not nil.
func (f *functions) goUnit(u *unit, fn func()) {
	f.wg.Add(1)
	if u != nil {
		u.wg.Add(1)
	}
	go func() {
		defer f.wg.Done()
		if u != nil {
			defer u.wg.Done()
		}
		fn()
	}()
}

// setUnit makes u the unit that runs under key (none when u is nil): the
// addresses of the one it replaces go, u's are what the broker resolves
// from now on. It starts and stops nothing.
func (f *functions) setUnit(key string, u *unit) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if prev := f.units[key]; prev != nil {
		for k, a := range prev.addrs {
			if cur, ok := f.addrs[k]; ok && cur.String() == a.String() {
				delete(f.addrs, k)
			}
		}
	}
	if u == nil {
		delete(f.units, key)
		return
	}
	f.units[key] = u
	for k, a := range u.addrs {
		f.addrs[k] = a
	}
}

// unit is the unit that runs under key, or nil.
func (f *functions) unit(key string) *unit {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.units[key]
}

// unitList is every unit that runs, sorted by key, so that the broker's
// config is the same for the same objects.
func (f *functions) unitList() []*unit {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*unit, 0, len(f.units))
	for _, u := range f.units {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

// startUnit serves u's functions until ctx ends or stopUnit; on an error
// nothing of u keeps running.
func (f *functions) startUnit(ctx context.Context, env *runEnv, u *unit) error {
	uctx, cancel := context.WithCancel(ctx)
	u.cancel = cancel
	if err := u.start(uctx, env); err != nil {
		return errors.Join(fmt.Errorf("%s: %w", u.key(), err), f.stopUnit(u))
	}
	return nil
}

// stopUnit stops u's functions and waits until its servers are gone and
// its ports are free.
func (f *functions) stopUnit(u *unit) error {
	if u.cancel != nil {
		u.cancel()
	}
	u.wg.Wait()
	u.closeListeners()
	f.mu.Lock()
	runners := u.runners
	u.runners = nil
	f.runners = slices.DeleteFunc(f.runners, func(r *funcrunner.Runner) bool { return slices.Contains(runners, r) })
	f.mu.Unlock()
	var errs []error
	for _, r := range runners {
		errs = append(errs, r.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop %s: %w", u.key(), err)
	}
	return nil
}
