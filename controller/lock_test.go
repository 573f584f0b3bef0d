package controller

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestKeyLocksSerialiseOneKeyOnly(t *testing.T) {
	l := newKeyLocks()
	a, b := key{"ns", "a"}, key{"ns", "b"}

	// Inside a's lock, b's is free.
	unlockA := l.lock(a)
	got := make(chan struct{})
	go func() { l.lock(b)(); close(got) }()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("b waited for a")
	}

	// A second taker of a waits for the first.
	var second atomic.Bool
	done := make(chan struct{})
	go func() { l.lock(a)(); second.Store(true); close(done) }()
	time.Sleep(20 * time.Millisecond)
	if second.Load() {
		t.Fatal("a was taken twice")
	}
	unlockA()
	<-done

	// Many takers of one key never overlap, and the table empties.
	var inside, overlap atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			defer l.lock(a)()
			if inside.Add(1) > 1 {
				overlap.Add(1)
			}
			time.Sleep(100 * time.Microsecond)
			inside.Add(-1)
		})
	}
	wg.Wait()
	if overlap.Load() > 0 {
		t.Fatalf("%d overlapping holders of one key", overlap.Load())
	}
	if n := len(l.locks); n != 0 {
		t.Fatalf("%d locks left in the table", n)
	}
}
