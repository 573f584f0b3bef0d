package httpbound_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zeroflow-dev/zeroflow/internal/httpbound"
)

// The handler behind BufferBody runs only once the body is in: a body
// that trickles never reaches it (408 at the grace time), while a body
// that arrived whole is served at once.
func TestBufferBodyHoldsNothingForASlowBody(t *testing.T) {
	var entered atomic.Int32
	h := httpbound.BufferBody(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered.Add(1)
		echo(w, r)
	}), 0)
	addr, _ := serve(t, h, httpbound.Limits{BodyGrace: 600 * time.Millisecond})
	c := dial(t, addr)
	fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go trickle(c, 100*time.Millisecond, stop)
	time.Sleep(200 * time.Millisecond)
	resp, err := http.Post("http://"+addr+"/", "text/plain", bytes.NewReader([]byte("whole")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || entered.Load() != 1 {
		t.Fatalf("a whole body behind a trickling one: %d, handler entered %d times, want 200 and once", resp.StatusCode, entered.Load())
	}
	if slow := readResponse(t, c, 5*time.Second); slow.StatusCode != http.StatusRequestTimeout {
		t.Errorf("trickling body: %d, want 408", slow.StatusCode)
	}
	if n := entered.Load(); n != 1 {
		t.Errorf("the handler ran for the trickling body (%d calls)", n)
	}
}

// Bodies below, across and above the memory part and above the buffered
// bound reach the handler intact with the right length.
func TestBufferBodySizes(t *testing.T) {
	const maxBuffered = 3 << 20
	h := httpbound.BufferBody(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d ", r.ContentLength)
		echo(w, r)
	}), maxBuffered)
	addr, _ := serve(t, h, httpbound.Limits{})
	for _, size := range []int{1, 1 << 20, 1<<20 + 1, maxBuffered - 1, maxBuffered, maxBuffered + 1, 10 << 20} {
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		resp, err := http.Post("http://"+addr+"/", "application/octet-stream", bytes.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := fmt.Sprintf("%d %d %x", size, size, sha256.Sum256(payload))
		if resp.StatusCode != http.StatusOK || string(body) != want {
			t.Errorf("%d bytes: %d %q, want 200 %q", size, resp.StatusCode, body, want)
		}
	}
}
