package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/minio/minio-go/v7"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/broker"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/testminio"
)

// countingStore counts the puts of a real store.
type countingStore struct {
	sdk.Artifacts
	puts atomic.Int64
}

func (c *countingStore) Put(ctx context.Context, key string, r io.Reader) error {
	c.puts.Add(1)
	return c.Artifacts.Put(ctx, key, r)
}

// downStore is a store that cannot be reached.
type downStore struct{}

func (downStore) Put(context.Context, string, io.Reader) error {
	return errors.New("dial tcp: connection refused")
}
func (downStore) Get(context.Context, string) (io.ReadCloser, error) {
	return nil, errors.New("dial tcp: connection refused")
}

// bigData is JSON data of about n bytes.
func bigData(n int) []byte {
	return []byte(`{"body":"` + strings.Repeat("x", n) + `"}`)
}

func bigEvent(id, typ string, data []byte) event.Event {
	e := event.New()
	e.SetID(id)
	e.SetType(typ)
	e.SetSource("/test")
	_ = e.SetData(event.ApplicationJSON, data)
	return e
}

// capture is a subscriber that records the raw requests it gets.
type capture struct {
	mu   sync.Mutex
	reqs []capturedReq
	got  chan struct{}
}

type capturedReq struct {
	header http.Header
	body   []byte
}

func newCapture(t *testing.T) (*capture, string) {
	c := &capture{got: make(chan struct{}, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.reqs = append(c.reqs, capturedReq{header: r.Header.Clone(), body: b})
		c.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		c.got <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return c, srv.URL
}

func (c *capture) wait(t *testing.T, n int) []capturedReq {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-c.got:
		case <-timeout:
			t.Fatalf("got %d requests, want %d", i, n)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]capturedReq(nil), c.reqs...)
}

func startBroker(t *testing.T, triggers ...eventingv1.Trigger) *broker.Broker {
	t.Helper()
	ctx := context.Background()
	// The broker's default limit of 1 MiB, which issue 12's bodies hit.
	b, err := broker.Start(ctx, broker.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	err = b.Apply(ctx, broker.Config{
		Brokers:  []eventingv1.Broker{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "default"}}},
		Triggers: triggers,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func typeTrigger(name, typ, to string) eventingv1.Trigger {
	p, _ := apis.ParseURL(to)
	return eventingv1.Trigger{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: eventingv1.TriggerSpec{Broker: "default", Filter: &eventingv1.TriggerFilter{Attributes: map[string]string{"type": typ}}, Subscriber: duckv1.Destination{URI: p}}}
}

// A body of 3 MiB, three times the broker's limit, travels through the
// real broker: the sender offloads it, the function's handler sees it
// whole and unmarked, its reply of the same data reuses the stored object,
// and what the broker carries is small.
func TestLargeEventsTravelOffloaded(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := &countingStore{Artifacts: sdk.DirArtifacts{Dir: dir}}
	offload := sdk.EventOffload{Store: store, Limits: sdk.OffloadLimits{Threshold: 64 << 10, MaxValue: 8 << 20}}
	data := bigData(3 << 20)

	var handled atomic.Int64
	fn := sdk.HandlerFunc(func(ctx context.Context, e event.Event) (*event.Event, error) {
		if !bytes.Equal(e.Data(), data) {
			return nil, sdk.Status(http.StatusBadRequest, fmt.Errorf("handler got %d bytes, want %d", len(e.Data()), len(data)))
		}
		for _, ext := range []string{events.ExtDataRef, events.ExtDataSize, events.ExtDataDigest} {
			if _, ok := e.Extensions()[ext]; ok {
				return nil, sdk.Status(http.StatusBadRequest, fmt.Errorf("handler sees %s", ext))
			}
		}
		if e.DataContentType() != event.ApplicationJSON {
			return nil, sdk.Status(http.StatusBadRequest, fmt.Errorf("content type %q", e.DataContentType()))
		}
		handled.Add(1)
		reply := bigEvent("reply-"+e.ID(), "replied", e.Data())
		return &reply, nil
	})
	end, endURL := newCapture(t)
	fnURL := "http://" + reserveAddr(t)
	b := startBroker(t, typeTrigger("to-fn", "start", fnURL), typeTrigger("replies", "replied", endURL))
	sink := b.Address("default", "default")
	serveAt(t, fnURL, fn, sdk.Options{Sink: sink, Offload: offload})

	if err := sdk.NewSender(sink).WithOffload(offload, "").Send(ctx, bigEvent("1", "start", data)); err != nil {
		t.Fatal(err)
	}
	got := end.wait(t, 1)[0]
	if len(got.body) != 0 {
		t.Errorf("the reply carried %d bytes of data through the broker, want none", len(got.body))
	}
	ref := got.header.Get("Ce-" + events.ExtDataRef)
	if want := sdk.OffloadKey("default", sdk.Digest(data)); ref != want {
		t.Errorf("reply %s %q, want %q", events.ExtDataRef, ref, want)
	}
	if s := got.header.Get("Ce-" + events.ExtDataSize); s != fmt.Sprint(len(data)) {
		t.Errorf("reply %s %q", events.ExtDataSize, s)
	}
	if handled.Load() != 1 {
		t.Errorf("handled %d times", handled.Load())
	}
	// One put: the sender's. The reply of the same bytes reused it.
	if n := store.puts.Load(); n != 1 {
		t.Errorf("%d puts, want 1 (the reply reuses the received data's object)", n)
	}
	stored, err := os.ReadFile(filepath.Join(dir, ref))
	if err != nil || !bytes.Equal(stored, data) {
		t.Errorf("stored object: %d bytes, %v", len(stored), err)
	}
	// The same object resolves for a reader of the namespace.
	ev := bigEvent("r", "t", nil)
	ev.DataEncoded = nil
	for _, ext := range []string{events.ExtDataRef, events.ExtDataSize, events.ExtDataDigest} {
		ev.SetExtension(ext, got.header.Get("Ce-"+ext))
	}
	if _, err := sdk.ResolveEvent(ctx, offload, "default", &ev); err != nil || !bytes.Equal(ev.Data(), data) {
		t.Errorf("resolve the reply: %v", err)
	}
}

// reserveAddr returns a free loopback address.
func reserveAddr(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.Listener.Addr().String()
	srv.Close()
	return addr
}

// serveAt serves h on the address of url.
func serveAt(t *testing.T, url string, h sdk.Handler, opts sdk.Options) {
	t.Helper()
	opts.Addr = strings.TrimPrefix(url, "http://")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sdk.Serve(ctx, h, opts) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(url + "/health/readiness")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("function did not start: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A reference that is wrong is refused with 400 naming its key (the
// broker dead-letters it at once); a store that cannot be reached is 503
// (the broker retries).
func TestBadOffloadReferencesArePermanent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := sdk.DirArtifacts{Dir: dir}
	limits := sdk.OffloadLimits{Threshold: 1 << 10, MaxValue: 1 << 20}
	data := bigData(8 << 10)
	ref, err := sdk.PutValue(ctx, store, "team-a", data)
	if err != nil {
		t.Fatal(err)
	}
	other, err := sdk.PutValue(ctx, store, "team-b", data)
	if err != nil {
		t.Fatal(err)
	}
	tampered, err := sdk.PutValue(ctx, store, "team-a", bigData(9<<10))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, tampered.Key), bigData(9<<10-1), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := sdk.OffloadKey("team-a", sdk.Digest([]byte("never stored")))

	var handled atomic.Int64
	fn := sdk.HandlerFunc(func(context.Context, event.Event) (*event.Event, error) {
		handled.Add(1)
		return nil, nil
	})
	url := serve(t, fn, sdk.Options{Offload: sdk.EventOffload{Store: store, Limits: limits}, Namespace: "team-a"})
	downURL := serve(t, fn, sdk.Options{Offload: sdk.EventOffload{Store: downStore{}, Limits: limits}, Namespace: "team-a"})
	smallMaxURL := serve(t, fn, sdk.Options{Offload: sdk.EventOffload{Store: store, Limits: sdk.OffloadLimits{MaxValue: 4 << 10}}, Namespace: "team-a"})

	refEvent := func(key, size, digest string, withData bool) event.Event {
		e := bigEvent("e-"+key, "t", nil)
		e.DataEncoded = nil
		if withData {
			_ = e.SetData(event.ApplicationJSON, []byte(`{"a":1}`))
		}
		e.SetExtension(events.ExtDataRef, key)
		e.SetExtension(events.ExtDataSize, size)
		e.SetExtension(events.ExtDataDigest, digest)
		return e
	}
	size := func(n int64) string { return fmt.Sprint(n) }
	for _, row := range []struct {
		name, url string
		ev        event.Event
		want      int
		mention   string
	}{
		{"ok", url, refEvent(ref.Key, size(ref.Size), ref.Digest, false), http.StatusAccepted, ""},
		{"another_namespace's_key", url, refEvent(other.Key, size(other.Size), other.Digest, false), http.StatusBadRequest, other.Key},
		{"key_not_of_the_digest", url, refEvent(ref.Key, size(ref.Size), tampered.Digest, false), http.StatusBadRequest, ref.Key},
		{"digest_mismatch", url, refEvent(tampered.Key, size(tampered.Size), tampered.Digest, false), http.StatusBadRequest, tampered.Key},
		{"size_over_the_max", smallMaxURL, refEvent(ref.Key, size(ref.Size), ref.Digest, false), http.StatusBadRequest, ref.Key},
		{"size_not_a_number", url, refEvent(ref.Key, "many", ref.Digest, false), http.StatusBadRequest, ref.Key},
		{"object_missing", url, refEvent(missing, "10", "sha256:"+strings.TrimPrefix(missing, "offload/team-a/sha256/"), false), http.StatusBadRequest, missing},
		{"reference_and_data", url, refEvent(ref.Key, size(ref.Size), ref.Digest, true), http.StatusBadRequest, ref.Key},
		{"store_unreachable", downURL, refEvent(ref.Key, size(ref.Size), ref.Digest, false), http.StatusServiceUnavailable, ref.Key},
	} {
		t.Run(row.name, func(t *testing.T) {
			resp := post(t, row.url, row.ev)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != row.want {
				t.Fatalf("answered %d (%s), want %d", resp.StatusCode, body, row.want)
			}
			if row.mention != "" && !strings.Contains(string(body), row.mention) {
				t.Errorf("answer %q does not name the key %s", body, row.mention)
			}
		})
	}
	if n := handled.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want once (only for the good reference)", n)
	}
}

// The Kn-Namespace header of the delivering broker picks the namespace a
// reference is checked against: team-a's key delivered as team-b's is
// refused.
func TestOffloadNamespaceIsTheDeliveringOne(t *testing.T) {
	ctx := context.Background()
	store := sdk.DirArtifacts{Dir: t.TempDir()}
	data := bigData(70 << 10)
	ref, err := sdk.PutValue(ctx, store, "team-a", data)
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, sdk.HandlerFunc(func(context.Context, event.Event) (*event.Event, error) { return nil, nil }),
		sdk.Options{Offload: sdk.EventOffload{Store: store}, Namespace: "team-a"})
	e := bigEvent("1", "t", nil)
	e.DataEncoded = nil
	e.SetExtension(events.ExtDataRef, ref.Key)
	e.SetExtension(events.ExtDataSize, fmt.Sprint(ref.Size))
	e.SetExtension(events.ExtDataDigest, ref.Digest)
	for ns, want := range map[string]int{"team-a": http.StatusAccepted, "team-b": http.StatusBadRequest} {
		req, _ := http.NewRequest(http.MethodPost, url, nil)
		ev := e.Clone()
		if err := writeBinary(ctx, &ev, req); err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Kn-Namespace", ns)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("delivered in %s: %d (%s), want %d", ns, resp.StatusCode, body, want)
		}
	}
}

// Without a store, data above the threshold is not sent: the error says
// what to set. Data at the threshold goes inline.
func TestSendWithoutAStoreFailsClearly(t *testing.T) {
	t.Setenv(sdk.EnvArtifacts, "")
	end, endURL := newCapture(t)
	b := startBroker(t, typeTrigger("all", "t", endURL))
	s := sdk.NewSender(b.Address("default", "default"))
	err := s.Send(context.Background(), bigEvent("big", "t", bigData(100<<10)))
	if !errors.Is(err, sdk.ErrNoOffloadStore) || !strings.Contains(err.Error(), "$"+sdk.EnvArtifacts) {
		t.Errorf("send without a store: %v", err)
	}
	small := bigData(sdk.DefaultOffloadThreshold - len(bigData(0)))
	if err := s.Send(context.Background(), bigEvent("small", "t", small)); err != nil {
		t.Fatal(err)
	}
	got := end.wait(t, 1)
	if len(got) != 1 || !bytes.Equal(got[0].body, small) || got[0].header.Get("Ce-Id") != "small" {
		t.Errorf("got %d requests", len(got))
	}
}

// The same offload through a real MinIO, as on a cluster.
func TestLargeEventsThroughMinIO(t *testing.T) {
	addr := testminio.Start(t, "events")
	t.Setenv("AWS_ACCESS_KEY_ID", testminio.User)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testminio.Password)
	t.Setenv(sdk.EnvArtifacts, fmt.Sprintf("s3://events/zf?endpoint=%s&insecure=true", addr))
	ctx := context.Background()
	data := bigData(2 << 20)
	got := make(chan []byte, 1)
	fn := sdk.HandlerFunc(func(ctx context.Context, e event.Event) (*event.Event, error) {
		got <- e.Data()
		return nil, nil
	})
	fnURL := "http://" + reserveAddr(t)
	b := startBroker(t, typeTrigger("to-fn", "start", fnURL))
	sink := b.Address("default", "default")
	// Both read the store from the environment.
	serveAt(t, fnURL, fn, sdk.Options{Sink: sink})
	if err := sdk.NewSender(sink).Send(ctx, bigEvent("1", "start", data)); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if !bytes.Equal(b, data) {
			t.Errorf("handler got %d bytes, want %d", len(b), len(data))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the event did not arrive")
	}
	admin := testminio.Client(t, addr)
	if _, err := admin.StatObject(ctx, "events", "zf/"+sdk.OffloadKey("default", sdk.Digest(data)), minioStat()); err != nil {
		t.Errorf("offloaded object not in MinIO: %v", err)
	}
}

func writeBinary(ctx context.Context, ev *event.Event, req *http.Request) error {
	return cehttp.WriteRequest(ctx, binding.ToMessage(ev), req)
}

func minioStat() minio.StatObjectOptions { return minio.StatObjectOptions{} }
