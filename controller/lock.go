package controller

import (
	"sync"
	"time"
)

// keyLocks serialise the advances of one workflow within an instance, so
// that its own inputs do not conflict with each other. Each workflow has its
// own lock: under a burst, a slow status write holds up only the inputs of
// its own workflow (a fixed set of striped locks made unrelated workflows
// wait for each other, 0.4 s on average in a 500-webhook burst).
type keyLocks struct {
	mu    sync.Mutex
	locks map[key]*keyLock
}

type keyLock struct {
	mu sync.Mutex
	// refs counts the holders and waiters; the entry goes when it is 0.
	refs int
}

func newKeyLocks() *keyLocks { return &keyLocks{locks: map[key]*keyLock{}} }

// lock takes k's lock and returns its release.
func (l *keyLocks) lock(k key) func() {
	l.mu.Lock()
	e := l.locks[k]
	if e == nil {
		e = &keyLock{}
		l.locks[k] = e
	}
	e.refs++
	l.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		l.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(l.locks, k)
		}
		l.mu.Unlock()
	}
}

// lock serialises the advances of one workflow within this instance.
func (c *Controller) lock(k key) func() {
	start := time.Now()
	unlock := c.locks.lock(k)
	c.metrics.lockWait.Observe(since(start))
	return unlock
}
