package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/broker"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/functions/webhook"
	"github.com/zeroflow-dev/zeroflow/internal/httpbound"
)

const largeSource = `
apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: logs, namespace: team-a}
spec:
  webhook:
    batch:
      port: "12000"
      endpoint: /batch
      method: POST
      maxPayloadSize: 10485760
    small:
      port: "12000"
      endpoint: /small
      method: POST
`

// largeFixture is a webhook in front of the real broker (1 MiB events)
// with a directory store, and an SDK function behind the broker that
// records the data its handler sees.
type largeFixture struct {
	url   string
	dir   string
	seen  chan event.Event
	hook  *webhook.Webhook
	store sdk.Artifacts
}

// bodyGrace, when not zero, is the server's body grace time
// (httpbound.Limits.BodyGrace).
func setupLarge(t *testing.T, offload *sdk.EventOffload, bodyGrace time.Duration) *largeFixture {
	t.Helper()
	var es v1alpha1.EventSource
	if err := yaml.UnmarshalStrict([]byte(largeSource), &es); err != nil {
		t.Fatal(err)
	}
	if errs := v1alpha1.ValidateEventSource(&es); len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	f := &largeFixture{dir: t.TempDir(), seen: make(chan event.Event, 10)}
	f.store = sdk.DirArtifacts{Dir: f.dir}
	if offload == nil {
		offload = &sdk.EventOffload{Store: f.store}
	}
	ctx, cancel := context.WithCancel(context.Background())
	b, err := broker.Start(ctx, broker.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fn := sdk.HandlerFunc(func(_ context.Context, e event.Event) (*event.Event, error) {
		f.seen <- e
		return nil, nil
	})
	done := make(chan error, 1)
	go func() {
		done <- sdk.Serve(ctx, fn, sdk.Options{Listener: l, Offload: sdk.EventOffload{Store: f.store}, Logger: discard()})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		b.Close()
	})
	u, _ := apis.ParseURL("http://" + l.Addr().String())
	err = b.Apply(ctx, broker.Config{
		Brokers: []eventingv1.Broker{{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "default"}}},
		Triggers: []eventingv1.Trigger{{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "all"},
			Spec: eventingv1.TriggerSpec{Broker: "default", Subscriber: duckv1.Destination{URI: u}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The sender has no store of its own: what it gets is offloaded.
	sender := sdk.NewSender(b.Address("team-a", "default")).WithOffload(sdk.EventOffload{}, "")
	f.hook, err = webhook.New(&es, webhook.Options{Send: sender.Send, Offload: offload})
	if err != nil {
		t.Fatal(err)
	}
	// Served as sdk.ServeHTTP serves it, with the real server limits.
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = httpbound.NewServer(f.hook.Handler(), httpbound.Limits{BodyGrace: bodyGrace})
	srv.Start()
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *largeFixture) post(t *testing.T, path string, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(f.url+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// objects lists what the store holds.
func (f *largeFixture) objects(t *testing.T) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(f.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func (f *largeFixture) none(t *testing.T) {
	t.Helper()
	select {
	case e := <-f.seen:
		t.Fatalf("unexpected event %s", e.ID())
	case <-time.After(300 * time.Millisecond):
	}
}

func logBatch(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"records":[`)
	for i := 0; b.Len() < n-64; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"i":%d,"msg":"GET /api/v1/items 200 12ms"}`, i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// Bodies of issue 12 (just under 1 MiB, and 5 and 10 MB with the limit
// raised) get 200 and reach a function whole; the broker carried a
// reference, and the object holds the webhook's data.
func TestLargeBodiesTravelOffloaded(t *testing.T) {
	f := setupLarge(t, nil, 0)
	for _, n := range []int{100 << 10, 1048400, 5 << 20, 10485760 - 1024} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			body := logBatch(n)
			code, msg := f.post(t, "/batch", body)
			if code != http.StatusOK {
				t.Fatalf("%d %s", code, msg)
			}
			var e event.Event
			select {
			case e = <-f.seen:
			case <-time.After(10 * time.Second):
				t.Fatal("the event did not reach the function")
			}
			var d webhook.Data
			if err := json.Unmarshal(e.Data(), &d); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(d.Body, body) {
				t.Errorf("the function got a body of %d bytes, want %d", len(d.Body), len(body))
			}
			if _, ok := e.Extensions()[events.ExtDataRef]; ok {
				t.Error("the handler sees zfdataref")
			}
			key := sdk.OffloadKey("team-a", sdk.Digest(e.Data()))
			if _, err := f.store.Get(context.Background(), key); err != nil {
				t.Errorf("no object %s: %v", key, err)
			}
		})
	}
}

// A body over the limit is refused with 413 and leaves nothing: no
// object, no event.
func TestBodyOverTheLimitStoresNothing(t *testing.T) {
	f := setupLarge(t, nil, 0)
	for _, c := range []struct {
		path string
		n    int
	}{{"/batch", 10485760 + 1}, {"/small", 1<<20 + 1}} {
		body := bytes.Repeat([]byte(" "), c.n)
		copy(body, `{"a":1}`)
		if code, msg := f.post(t, c.path, body); code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s with %d bytes: %d %s, want 413", c.path, c.n, code, msg)
		}
	}
	f.none(t)
	if objs := f.objects(t); len(objs) != 0 {
		t.Errorf("objects stored for refused bodies: %v", objs)
	}
}

// 200 only once the data and the event are both stored: a store that
// fails is 503 with nothing sent, and no store at all is 413 naming the
// setting (the body is too large for the webhook as deployed; a retry
// gets the same); a small body needs no store.
func TestStoreFailuresAreNot200(t *testing.T) {
	down := setupLarge(t, &sdk.EventOffload{Store: failingStore{}}, 0)
	if code, msg := down.post(t, "/batch", logBatch(200<<10)); code != http.StatusServiceUnavailable || !strings.Contains(msg, "nothing was recorded") {
		t.Errorf("store down: %d %s, want 503", code, msg)
	}
	down.none(t)

	none := setupLarge(t, &sdk.EventOffload{}, 0)
	if code, msg := none.post(t, "/batch", logBatch(200<<10)); code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "$"+sdk.EnvArtifacts) {
		t.Errorf("no store: %d %s, want 413 naming $%s", code, msg, sdk.EnvArtifacts)
	}
	none.none(t)
	if code, msg := none.post(t, "/batch", logBatch(10<<10)); code != http.StatusOK {
		t.Errorf("small body without a store: %d %s", code, msg)
	}

	// Above the largest value a reader loads: 413, nothing stored.
	capped := setupLarge(t, &sdk.EventOffload{Store: sdk.DirArtifacts{Dir: t.TempDir()}, Limits: sdk.OffloadLimits{MaxValue: 1 << 20}}, 0)
	if code, msg := capped.post(t, "/batch", logBatch(2<<20)); code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, sdk.EnvMaxOffloadedValue) {
		t.Errorf("over the max value: %d %s, want 413", code, msg)
	}
	capped.none(t)
}

type failingStore struct{}

func (failingStore) Put(context.Context, string, io.Reader) error {
	return errors.New("dial tcp 10.0.0.9:9000: connection refused")
}
func (failingStore) Get(context.Context, string) (io.ReadCloser, error) {
	return nil, errors.New("dial tcp 10.0.0.9:9000: connection refused")
}

// A sender that trickles its body is cut off after the server's body
// grace time with 408, and nothing is stored.
func TestSlowBodyIsCutOff(t *testing.T) {
	f := setupLarge(t, nil, 300*time.Millisecond)
	addr := strings.TrimPrefix(f.url, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{\"a\":")
	start := time.Now()
	// Trickle a byte every 100ms: never idle long, never done.
	go func() {
		for i := 0; i < 50; i++ {
			time.Sleep(100 * time.Millisecond)
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufioReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a slow body within 5s: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("slow body: %d, want 408", resp.StatusCode)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("cut off after %v", took)
	}
	f.none(t)
	if objs := f.objects(t); len(objs) != 0 {
		t.Errorf("objects stored: %v", objs)
	}
}

// A reference forged from outside is refused as every reserved extension
// is: a sender cannot point a function at a stored object.
func TestForgedDataReferenceIsRefused(t *testing.T) {
	f := setupLarge(t, nil, 0)
	key := sdk.OffloadKey("team-a", sdk.Digest([]byte("secret")))
	for _, c := range []struct {
		name, ctype, body string
		header            map[string]string
	}{
		{"binary", "application/json", "", map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "f-1", "Ce-Source": "/attacker", "Ce-Type": "invoice.paid",
			"Ce-Zfdataref": key, "Ce-Zfdatasize": "6", "Ce-Zfdatadigest": sdk.Digest([]byte("secret"))}},
		{"binary_upper_case", "application/json", "", map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "f-2", "Ce-Source": "/attacker", "Ce-Type": "invoice.paid",
			"CE-ZFDATAREF": key}},
		{"structured", "application/cloudevents+json",
			`{"specversion":"1.0","id":"f-3","source":"/attacker","type":"invoice.paid","zfdataref":"` + key + `","zfdatasize":"6"}`, nil},
	} {
		req, _ := http.NewRequest(http.MethodPost, f.url+"/batch", strings.NewReader(c.body))
		req.Header.Set("Content-Type", c.ctype)
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(msg), "zfdataref") {
			t.Errorf("%s: %d %s, want 400 naming zfdataref", c.name, resp.StatusCode, msg)
		}
	}
	f.none(t)
}

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
