package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// serve runs h on a loopback port and returns its URL; it stops with the test.
func serve(t *testing.T, h sdk.Handler, opts sdk.Options) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Listener = l
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sdk.Serve(ctx, h, opts) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + l.Addr().String()
}

func newEvent(id, typ string) event.Event {
	e := event.New()
	e.SetID(id)
	e.SetType(typ)
	e.SetSource("/test")
	_ = e.SetData(event.ApplicationJSON, map[string]int{"n": 1})
	return e
}

func post(t *testing.T, url string, e event.Event) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	if err := cehttp.WriteRequest(context.Background(), binding.ToMessage(&e), req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestServeAnswersAsAKnativeSubscriber(t *testing.T) {
	h := sdk.HandlerFunc(func(ctx context.Context, e event.Event) (*event.Event, error) {
		switch e.Type() {
		case "reply":
			r := newEvent("r-"+e.ID(), "replied")
			return &r, nil
		case "bad-input":
			return nil, sdk.Status(http.StatusBadRequest, errors.New("no such order"))
		case "crash":
			return nil, errors.New("database down")
		case "invalid-reply":
			r := event.New()
			return &r, nil
		}
		return nil, nil
	})
	url := serve(t, h, sdk.Options{})
	for _, c := range []struct {
		typ  string
		code int
	}{{"reply", 200}, {"noop", 202}, {"bad-input", 400}, {"crash", 500}, {"invalid-reply", 500}} {
		resp := post(t, url, newEvent("1", c.typ))
		if resp.StatusCode != c.code {
			t.Errorf("%s: status %d, want %d", c.typ, resp.StatusCode, c.code)
		}
		if c.typ == "reply" {
			msg := cehttp.NewMessageFromHttpResponse(resp)
			reply, err := binding.ToEvent(context.Background(), msg)
			if err != nil || reply.Type() != "replied" || reply.ID() != "r-1" {
				t.Errorf("reply: %v %v", reply, err)
			}
		}
	}
	resp, _ := http.Post(url, "application/json", strings.NewReader("{}"))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a request that is not a CloudEvent: %d, want 400", resp.StatusCode)
	}
	resp, _ = http.Get(url)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", resp.StatusCode)
	}
	for _, p := range []string{"/health/readiness", "/health/liveness"} {
		if resp, _ := http.Get(url + p); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}

func TestServeBoundsTheBody(t *testing.T) {
	url := serve(t, sdk.HandlerFunc(func(context.Context, event.Event) (*event.Event, error) { return nil, nil }), sdk.Options{MaxBodyBytes: 1024})
	e := newEvent("big", "t")
	_ = e.SetData("text/plain", strings.Repeat("x", 4096))
	if resp := post(t, url, e); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", resp.StatusCode)
	}
}

// On shutdown the function stops being ready, finishes what is in flight,
// and returns.
func TestServeDrainsOnShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	h := sdk.HandlerFunc(func(context.Context, event.Event) (*event.Event, error) {
		close(started)
		<-release
		return nil, nil
	})
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	url := "http://" + l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sdk.Serve(ctx, h, sdk.Options{Listener: l}) }()
	result := make(chan int, 1)
	go func() {
		e := newEvent("slow", "t")
		req, _ := http.NewRequest(http.MethodPost, url, nil)
		_ = cehttp.WriteRequest(context.Background(), binding.ToMessage(&e), req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			result <- -1
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Serve returned before the request in flight finished: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if code := <-result; code != http.StatusAccepted {
		t.Errorf("the request in flight got %d, want 202", code)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestSenderPostsToTheSink(t *testing.T) {
	var mu sync.Mutex
	var got []string
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Ce-Id"))
		mu.Unlock()
		if r.Header.Get("Ce-Type") == "refused" {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()
	s := sdk.NewSender(sink.URL)
	if err := s.Send(context.Background(), newEvent("a", "ok")); err != nil {
		t.Fatal(err)
	}
	err := s.Send(context.Background(), newEvent("b", "refused"))
	var se *sdk.SendError
	if !errors.As(err, &se) || se.Code != 503 {
		t.Errorf("err = %v, want a SendError 503", err)
	}
	if fmt.Sprint(got) != "[a b]" {
		t.Errorf("sink saw %v", got)
	}
	t.Setenv("K_SINK", "")
	if err := sdk.NewSender("").Send(context.Background(), newEvent("c", "ok")); !errors.Is(err, sdk.ErrNoSink) {
		t.Errorf("no sink: err = %v", err)
	}
	t.Setenv("K_SINK", sink.URL)
	if got := sdk.NewSender("").Sink(); got != sink.URL {
		t.Errorf("the sender does not default to K_SINK: %q", got)
	}
}
