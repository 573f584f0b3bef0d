//go:build unix

// Package slowsenders is the slow-body attack of the connection-limit
// tests (issue 13): connections that announce a large body and trickle it,
// a byte at a time, while real requests are measured beside them.
package slowsenders

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// AnnouncedBytes is the Content-Length each slow sender announces.
const AnnouncedBytes = 1_000_000

// dialsAtOnce bounds the connections being dialled at the same time.
const dialsAtOnce = 50

// Result is what one slow sender saw.
type Result struct {
	Status int
	// Took is from the end of its header to its answer.
	Took time.Duration
	Err  error
}

// Attack is n slow senders at work.
type Attack struct {
	// Results gets one Result per sender, as each is answered.
	Results chan Result
	open    atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup
}

// Start opens n connections to addr (host:port). Each sends the header of
// a POST of path announcing AnnouncedBytes of JSON and a first byte, then
// a byte every trickle, and waits up to answerWithin for the answer. Start
// returns once every one has sent its header (or failed to); the test's
// cleanup stops those still going.
func Start(t *testing.T, addr, path string, n int, trickle, answerWithin time.Duration) *Attack {
	t.Helper()
	a := &Attack{Results: make(chan Result, n), stop: make(chan struct{})}
	var dialed sync.WaitGroup
	dialed.Add(n)
	sem := make(chan struct{}, dialsAtOnce)
	for i := range n {
		a.wg.Go(func() {
			sem <- struct{}{}
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			<-sem
			if err != nil {
				dialed.Done()
				a.Results <- Result{Err: fmt.Errorf("slow %d: dial: %w", i, err)}
				return
			}
			defer c.Close()
			_, err = fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", path, addr, AnnouncedBytes)
			sent := time.Now()
			dialed.Done()
			if err != nil {
				a.Results <- Result{Err: fmt.Errorf("slow %d: write header: %w", i, err)}
				return
			}
			a.open.Add(1)
			defer a.open.Add(-1)
			go a.trickle(c, trickle)
			_ = c.SetReadDeadline(time.Now().Add(answerWithin))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				a.Results <- Result{Err: fmt.Errorf("slow %d: no answer %v after its header: %w", i, time.Since(sent).Round(time.Millisecond), err)}
				return
			}
			resp.Body.Close()
			a.Results <- Result{Status: resp.StatusCode, Took: time.Since(sent)}
		})
	}
	t.Cleanup(a.Stop)
	dialed.Wait()
	return a
}

// trickle writes a byte to c every period until the attack stops or the
// connection fails.
func (a *Attack) trickle(c net.Conn, period time.Duration) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-tick.C:
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}
}

// Open is how many senders have sent their header and wait for an answer.
func (a *Attack) Open() int64 { return a.open.Load() }

// Stop ends every sender and waits for them; it may be called again.
func (a *Attack) Stop() {
	select {
	case <-a.stop:
	default:
		close(a.stop)
	}
	a.wg.Wait()
}

// NeedOpenFiles makes sure the process may open n files, raising its soft
// limit up to the hard one if needed, or skips the test.
func NeedOpenFiles(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("cannot read RLIMIT_NOFILE: %v", err)
	}
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		t.Skipf("RLIMIT_NOFILE hard limit %d is below the %d files this test needs", lim.Max, n)
	}
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("cannot raise RLIMIT_NOFILE to %d: %v", n, err)
	}
}
