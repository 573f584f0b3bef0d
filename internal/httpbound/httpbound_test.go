package httpbound_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zeroflow-dev/zeroflow/internal/httpbound"
)

// serve runs h with lim on a loopback listener and returns its address
// and the bounded listener.
func serve(t *testing.T, h http.Handler, lim httpbound.Limits) (string, net.Listener) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bl := httpbound.Listener(l, lim)
	srv := httpbound.NewServer(h, lim)
	go func() { _ = srv.Serve(bl) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String(), bl
}

// echo answers the size and digest of the body it read, or 400 with the
// read error (as most handlers do: BoundBody must make that a 408).
func echo(w http.ResponseWriter, r *http.Request) {
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func readResponse(t *testing.T, c net.Conn, within time.Duration) *http.Response {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer within %v: %v", within, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

// trickle writes a byte every every until stop or a write fails.
func trickle(c net.Conn, every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}
}

// A header that never ends is cut off at ReadHeaderTimeout, not before.
func TestHeaderTimeout(t *testing.T) {
	addr, _ := serve(t, http.HandlerFunc(echo), httpbound.Limits{ReadHeaderTimeout: 500 * time.Millisecond})
	c := dial(t, addr)
	start := time.Now()
	fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: x\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go trickle(c, 50*time.Millisecond, stop)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.ReadAll(c)
	took := time.Since(start)
	if errors.Is(err, context.DeadlineExceeded) || took >= 5*time.Second {
		t.Fatalf("the connection was still open after %v", took)
	}
	if took < 450*time.Millisecond || took > 2*time.Second {
		t.Errorf("closed after %v, want about the 500ms header timeout", took)
	}
}

// A body that trickles in (a byte every 100 ms) is cut off after the
// grace time with 408, even though the handler answers 400 to the read
// error; the handler saw ErrSlowBody.
func TestSlowBodyIs408AfterGrace(t *testing.T) {
	var sawSlow atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		sawSlow.Store(errors.Is(err, httpbound.ErrSlowBody))
		http.Error(w, fmt.Sprint(err), http.StatusBadRequest)
	})
	addr, _ := serve(t, h, httpbound.Limits{BodyGrace: 700 * time.Millisecond, BodyIdle: 5 * time.Second})
	c := dial(t, addr)
	start := time.Now()
	fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go trickle(c, 100*time.Millisecond, stop)
	resp := readResponse(t, c, 5*time.Second)
	took := time.Since(start)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("slow body: %d, want 408", resp.StatusCode)
	}
	if took < 650*time.Millisecond || took > 2*time.Second {
		t.Errorf("cut off after %v, want about the 700ms grace", took)
	}
	if !sawSlow.Load() {
		t.Error("the handler's read error is not ErrSlowBody")
	}
}

// A body that pauses longer than BodyIdle after sending part of itself
// is cut off then, well before its rate bound.
func TestBodyPauseIs408AtIdle(t *testing.T) {
	addr, _ := serve(t, http.HandlerFunc(echo), httpbound.Limits{BodyGrace: 10 * time.Second, BodyIdle: 500 * time.Millisecond})
	c := dial(t, addr)
	fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"+strings.Repeat("a", 500))
	start := time.Now()
	resp := readResponse(t, c, 5*time.Second)
	took := time.Since(start)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("paused body: %d, want 408", resp.StatusCode)
	}
	if took < 450*time.Millisecond || took > 2*time.Second {
		t.Errorf("cut off after %v, want about the 500ms pause bound", took)
	}
}

// A body that keeps the minimum rate gets through even when it takes far
// longer than the grace time: the bound is a rate, not a total.
func TestBodyAtTheMinimumRatePasses(t *testing.T) {
	lim := httpbound.Limits{BodyGrace: 300 * time.Millisecond, BodyMinRate: 64 << 10, BodyIdle: time.Second}
	addr, _ := serve(t, http.HandlerFunc(echo), lim)
	c := dial(t, addr)
	const size = 160 << 10 // 2.5 s at the minimum rate, sent at twice it: ~1.25 s
	payload := bytes.Repeat([]byte("z"), size)
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
	start := time.Now()
	go func() {
		const chunk = 8 << 10
		for off := 0; off < size; off += chunk {
			if _, err := c.Write(payload[off : off+chunk]); err != nil {
				return
			}
			time.Sleep(time.Duration(float64(chunk) / float64(2*lim.BodyMinRate) * float64(time.Second)))
		}
	}()
	resp := readResponse(t, c, 10*time.Second)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), fmt.Sprint(size)+" ") {
		t.Fatalf("body at twice the minimum rate: %d %s", resp.StatusCode, body)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("sent in %v: the test did not outlast the grace time", took)
	}
}

// 10 MB at loopback speed with the defaults arrives whole.
func TestLargeBodyWithDefaults(t *testing.T) {
	addr, _ := serve(t, http.HandlerFunc(echo), httpbound.Limits{})
	payload := bytes.Repeat([]byte("0123456789abcdef"), 10<<20/16)
	resp, err := http.Post("http://"+addr+"/", "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf("%d %x", len(payload), sha256.Sum256(payload))
	if resp.StatusCode != http.StatusOK || string(body) != want {
		t.Fatalf("10 MB: %d %s, want 200 %s", resp.StatusCode, body, want)
	}
}

// A request that has sent its body, or has none, keeps its context for
// as long as its handler works: the body's deadline is gone by then.
func TestLongHandlerKeepsItsContext(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(800 * time.Millisecond):
			fmt.Fprint(w, "done")
		case <-r.Context().Done():
			http.Error(w, "context ended", http.StatusServiceUnavailable)
		}
	})
	// Every bound shorter than the handler: only reading is bounded.
	addr, _ := serve(t, h, httpbound.Limits{ReadHeaderTimeout: 200 * time.Millisecond, BodyGrace: 200 * time.Millisecond, BodyIdle: 200 * time.Millisecond, IdleTimeout: 200 * time.Millisecond})
	for _, body := range []io.Reader{nil, strings.NewReader(`{"a":1}`)} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("body %v: %d %s, want 200 after the handler's 800ms", body != nil, resp.StatusCode, b)
		}
	}
}

// At the bound every connection is served; one more is answered 503
// with Retry-After at accept; once one closes, the next is served.
func TestConnectionBound(t *testing.T) {
	const maxConns = 3
	addr, bl := serve(t, http.HandlerFunc(echo), httpbound.Limits{MaxConns: maxConns})
	held := make([]net.Conn, 0, maxConns)
	for range maxConns - 1 {
		held = append(held, dial(t, addr))
	}
	waitActive(t, bl, maxConns-1)
	// The last place: a request on it is served.
	last := dial(t, addr)
	fmt.Fprint(last, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
	if resp := readResponse(t, last, 5*time.Second); resp.StatusCode != http.StatusOK {
		t.Fatalf("at the bound: %d, want 200", resp.StatusCode)
	}
	waitActive(t, bl, maxConns)
	// Over the bound.
	over := dial(t, addr)
	fmt.Fprint(over, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
	resp := readResponse(t, over, 5*time.Second)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), addr) {
		t.Fatalf("over the bound: %d Retry-After %q %s, want 503 with Retry-After naming %s", resp.StatusCode, resp.Header.Get("Retry-After"), body, addr)
	}
	if n := httpbound.Active(bl); n != maxConns {
		t.Errorf("a refused connection counted: %d active", n)
	}
	_ = held[0].Close()
	waitActive(t, bl, maxConns-1)
	again := dial(t, addr)
	fmt.Fprint(again, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
	if resp := readResponse(t, again, 5*time.Second); resp.StatusCode != http.StatusOK {
		t.Fatalf("after one closed: %d, want 200", resp.StatusCode)
	}
}

func waitActive(t *testing.T, l net.Listener, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for httpbound.Active(l) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections active, want %d", httpbound.Active(l), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The defaults are what docs/deploy.md says.
func TestDefaults(t *testing.T) {
	lim := httpbound.Limits{}.WithDefaults()
	if lim.ReadHeaderTimeout != 10*time.Second || lim.BodyGrace != 10*time.Second || lim.BodyMinRate != 32<<10 ||
		lim.BodyIdle != 10*time.Second || lim.IdleTimeout != 90*time.Second || lim.MaxHeaderBytes != 64<<10 ||
		lim.MaxConns != 4096 || lim.WriteTimeout != 0 {
		t.Errorf("defaults: %+v", lim)
	}
	srv := httpbound.NewServer(http.NotFoundHandler(), httpbound.Limits{IdleTimeout: -1, WriteTimeout: time.Minute})
	if srv.IdleTimeout != 0 || srv.WriteTimeout != time.Minute || srv.ReadHeaderTimeout != 10*time.Second || srv.MaxHeaderBytes != 64<<10 {
		t.Errorf("server: idle %v write %v header %v max header %d", srv.IdleTimeout, srv.WriteTimeout, srv.ReadHeaderTimeout, srv.MaxHeaderBytes)
	}
	if m := httpbound.Metrics(nil).WithDefaults(); m.WriteTimeout != 30*time.Second || m.MaxConns != 64 || m.BodyGrace != 10*time.Second {
		t.Errorf("metrics limits: %+v", m)
	}
}

// A header above MaxHeaderBytes is refused with 431.
func TestMaxHeaderBytes(t *testing.T) {
	addr, _ := serve(t, http.HandlerFunc(echo), httpbound.Limits{MaxHeaderBytes: 4 << 10})
	for _, c := range []struct {
		size int
		want int
	}{{2 << 10, http.StatusOK}, {16 << 10, http.StatusRequestHeaderFieldsTooLarge}} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
		req.Header.Set("X-Big", strings.Repeat("h", c.size))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("header of %d bytes: %d, want %d", c.size, resp.StatusCode, c.want)
		}
	}
}

// docs/deploy.md's "Connection limits" states every default; a default
// changed here without the docs fails.
func TestDefaultsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Connection limits\n")
	if !ok {
		t.Fatal(`docs/deploy.md has no "## Connection limits" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	seconds := func(d time.Duration) string { return fmt.Sprintf("%d s", int(d/time.Second)) }
	for _, c := range []struct{ bound, want string }{
		{"request line and headers", seconds(httpbound.DefaultReadHeaderTimeout)},
		{"header size", fmt.Sprintf("%d KiB", httpbound.DefaultMaxHeaderBytes>>10)},
		{"body grace time", seconds(httpbound.DefaultBodyGrace)},
		{"body minimum average rate", fmt.Sprintf("%d KiB/s", httpbound.DefaultBodyMinRate>>10)},
		{"body pause", seconds(httpbound.DefaultBodyIdle)},
		{"idle keep-alive connection", seconds(httpbound.DefaultIdleTimeout)},
		{"connections one listener holds", fmt.Sprintf("%d,%03d", httpbound.DefaultMaxConns/1000, httpbound.DefaultMaxConns%1000)},
		{"response write time", fmt.Sprintf("metrics servers %s (and at most %d connections)", seconds(httpbound.DefaultMetricsWriteTimeout), httpbound.DefaultMetricsMaxConns)},
		{"body is read whole", fmt.Sprintf("up to %d MiB", httpbound.DefaultMaxBuffered>>20)},
	} {
		// The table's row, or the sentence, that names the bound.
		line := ""
		for l := range strings.SplitSeq(section, "\n|") {
			if l = strings.Join(strings.Fields(l), " "); strings.Contains(l, c.bound) {
				line = l
				break
			}
		}
		if !strings.Contains(line, c.want) {
			t.Errorf("docs/deploy.md, Connection limits: %q does not say %q", c.bound, c.want)
		}
	}
}
