package webhook_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/webhook"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

// recorder is a Send that records what the webhook would hand the broker.
type recorder struct {
	mu   sync.Mutex
	sent []event.Event
}

func (r *recorder) send(_ context.Context, ev event.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, ev)
	return nil
}

func (r *recorder) events() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event.Event(nil), r.sent...)
}

func eventSource(t *testing.T) *v1alpha1.EventSource {
	t.Helper()
	var es v1alpha1.EventSource
	if err := yaml.UnmarshalStrict([]byte(source), &es); err != nil {
		t.Fatal(err)
	}
	return &es
}

// serveRecorded serves the test EventSource on loopback with a recording
// Send and the given secret resolver.
func serveRecorded(t *testing.T, res secrets.Resolver) (*recorder, string) {
	t.Helper()
	rec := &recorder{}
	w, err := webhook.New(eventSource(t), webhook.Options{Send: rec.send, Secrets: res})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

func post(t *testing.T, url, contentType, body string, header ...string) (int, string) {
	t.Helper()
	f := &fixture{url: url}
	return f.do(t, "POST", "", contentType, body, header...)
}

// The attack of issue 11: a public webhook forwarded a step.run for the
// exec function. Now every reserved type or extension is refused with 400
// naming it, and nothing is sent.
func TestReservedCloudEventsAreRefused(t *testing.T) {
	rec, url := serveRecorded(t, nil)
	stepRun := `{"template":{"container":{"command":["sh","-c","id > /tmp/x"]}}}`
	for _, c := range []struct {
		name   string
		ctype  string
		body   string
		header []string
		want   []string
	}{
		{"binary step.run", "application/json", stepRun,
			[]string{"Ce-Specversion", "1.0", "Ce-Id", "x-1", "Ce-Source", "/attacker", "Ce-Type", "dev.zeroflow.step.run", "Ce-Zffunction", "exec", "Ce-Zfworkflow", "w", "Ce-Zfnode", "main", "Ce-Zfattempt", "0"},
			[]string{`attribute type "dev.zeroflow.step.run"`, `zffunction="exec"`, `zfnode="main"`}},
		{"binary ordinary type, routing extension", "application/json", `{}`,
			[]string{"Ce-Specversion", "1.0", "Ce-Id", "x-2", "Ce-Source", "/attacker", "Ce-Type", "invoice.paid", "Ce-Zfsensor", "payments"},
			[]string{`zfsensor="payments"`}},
		{"binary forged source routing", "application/json", `{}`,
			[]string{"Ce-Specversion", "1.0", "Ce-Id", "x-3", "Ce-Source", "/attacker", "Ce-Type", "invoice.paid", "Ce-Zfeventsource", "other-webhook", "Ce-Zfevent", "secured"},
			[]string{`zfevent="secured"`, `zfeventsource="other-webhook"`}},
		{"binary knative error extension", "application/json", `{}`,
			[]string{"Ce-Specversion", "1.0", "Ce-Id", "x-4", "Ce-Source", "/attacker", "Ce-Type", "invoice.paid", "Ce-Knativeerrorcode", "500"},
			[]string{`knativeerrorcode="500"`}},
		{"binary ping", "application/json", `{}`,
			[]string{"Ce-Specversion", "1.0", "Ce-Id", "x-5", "Ce-Source", "/apis/v1/namespaces/default/pingsources/nightly", "Ce-Type", "dev.knative.sources.ping", "Ce-Zfcronworkflow", "nightly"},
			[]string{`attribute type "dev.knative.sources.ping"`, `zfcronworkflow="nightly"`}},
		{"binary apiserver", "application/json", `{}`,
			[]string{"Ce-Specversion", "1.0", "Ce-Id", "x-6", "Ce-Source", "https://10.0.0.1", "Ce-Type", "dev.knative.apiserver.resource.delete"},
			[]string{`attribute type "dev.knative.apiserver.resource.delete"`}},
		{"structured submit", "application/cloudevents+json",
			`{"specversion":"1.0","id":"x-7","source":"/attacker","type":"dev.zeroflow.workflow.submit","zfnamespace":"kube-system","data":{"workflow":{}}}`, nil,
			[]string{`attribute type "dev.zeroflow.workflow.submit"`, `zfnamespace="kube-system"`}},
		{"structured knative arrival time", "application/cloudevents+json; charset=utf-8",
			`{"specversion":"1.0","id":"x-8","source":"/attacker","type":"invoice.paid","knativearrivaltime":"2020-01-01T00:00:00Z","data":{}}`, nil,
			[]string{`knativearrivaltime="2020-01-01T00:00:00Z"`}},
	} {
		code, msg := post(t, url+"/workflow-a", c.ctype, c.body, c.header...)
		if code != http.StatusBadRequest {
			t.Errorf("%s: %d %q, want 400", c.name, code, msg)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q does not name %s", c.name, msg, w)
			}
		}
	}
	if sent := rec.events(); len(sent) != 0 {
		t.Errorf("%d refused events were sent: %v", len(sent), sent)
	}
}

// A CloudEvent from outside keeps its own attributes and extensions, and
// gets the routing extensions of the webhook it came through.
func TestOrdinaryCloudEventsPassWithTheirExtensions(t *testing.T) {
	rec, url := serveRecorded(t, nil)
	if code, msg := post(t, url+"/workflow-a", "application/json", `{"x":1}`,
		"Ce-Specversion", "1.0", "Ce-Id", "up-1", "Ce-Source", "/billing", "Ce-Type", "invoice.paid", "Ce-Tenant", "acme", "Ce-Partitionkey", "p1"); code != 200 {
		t.Fatalf("binary: %d %q", code, msg)
	}
	if code, msg := post(t, url+"/workflow-a", "application/cloudevents+json",
		`{"specversion":"1.0","id":"up-2","source":"/billing","type":"com.example.dev.zeroflow.like","tenant":"acme","data":{"x":2}}`); code != 200 {
		t.Fatalf("structured: %d %q", code, msg)
	}
	sent := rec.events()
	if len(sent) != 2 {
		t.Fatalf("sent %d", len(sent))
	}
	for _, e := range sent {
		ext := e.Extensions()
		if ext["tenant"] != "acme" || ext["zfeventsource"] != "workflow-a-webhook" || ext["zfevent"] != "workflowA" {
			t.Errorf("%s: extensions %v", e.ID(), ext)
		}
	}
	if sent[0].Extensions()["partitionkey"] != "p1" || sent[1].Type() != "com.example.dev.zeroflow.like" {
		t.Errorf("attributes changed: %v", sent)
	}
}

// Every sensitive header, not only Authorization, is masked in the event;
// the others are kept.
func TestSensitiveHeadersAreMasked(t *testing.T) {
	rec, url := serveRecorded(t, nil)
	code, msg := post(t, url+"/workflow-a", "application/json", `{"a":1}`,
		"Cookie", "session=abc", "X-Api-Key", "key-123", "Proxy-Authorization", "Basic eDp5", "Set-Cookie", "a=b",
		"Authorization", "Bearer leaked", "X-Request-Id", "r-1")
	if code != 200 {
		t.Fatalf("%d %q", code, msg)
	}
	sent := rec.events()
	if len(sent) != 1 {
		t.Fatalf("sent %d", len(sent))
	}
	d := data(t, sent[0])
	for _, h := range secrets.DefaultSensitiveHeaders() {
		if got := d.Header.Get(h); got != secrets.Masked {
			t.Errorf("%s reached the event: %q", h, got)
		}
	}
	if d.Header.Get("X-Request-Id") != "r-1" {
		t.Errorf("an ordinary header was masked: %v", d.Header)
	}
	for _, secret := range []string{"abc", "key-123", "eDp5", "leaked"} {
		if strings.Contains(string(sent[0].Data()), secret) {
			t.Errorf("%q is in the event data %s", secret, sent[0].Data())
		}
	}
}

// Secrets of the test EventSource's "secured" route, by how they are given.
func secretsWith(t *testing.T, token string, inFile bool) secrets.Resolver {
	t.Helper()
	ref := v1alpha1.SecretKeySelector{Name: "webhook-auth", Key: "token"}
	if !inFile {
		env := map[string]string{secrets.EnvName(ref): token}
		return secrets.Local{Getenv: func(k string) string { return env[k] }}
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "default", "webhook-auth", "token")
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	return secrets.Local{Dir: dir, Getenv: func(string) string { return "" }}
}

func TestCheckRefusesAMissingOrEmptySecret(t *testing.T) {
	for _, c := range []struct {
		name   string
		token  string
		inFile bool
		want   string
	}{
		{"empty file", "", true, "secret is empty"},
		{"newline file", "\n", true, "secret is empty"},
		{"whitespace file", "  \t \n", true, "secret is empty"},
		{"whitespace env", "   ", false, "secret is empty"},
		{"unset env", "", false, "secret not found"},
	} {
		w, err := webhook.New(eventSource(t), webhook.Options{Send: (&recorder{}).send, Secrets: secretsWith(t, c.token, c.inFile)})
		if err != nil {
			t.Fatal(err)
		}
		err = w.Check(context.Background())
		if err == nil {
			t.Errorf("%s: the webhook would start", c.name)
			continue
		}
		for _, want := range []string{"secret default/webhook-auth key token", "webhook secured", "workflow-a-webhook", c.want} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q does not say %q", c.name, err, want)
			}
		}
	}
	for _, inFile := range []bool{false, true} {
		w, err := webhook.New(eventSource(t), webhook.Options{Send: (&recorder{}).send, Secrets: secretsWith(t, "s3cret\n", inFile)})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Check(context.Background()); err != nil {
			t.Errorf("a good secret (file %v): %v", inFile, err)
		}
	}
}

// A secret emptied after the start never lets an empty bearer token in:
// over real HTTP (where the server trims the header to "Bearer") and
// straight to the handler, where "Bearer " and a blank token arrive as
// sent.
func TestEmptySecretNeverAcceptsAnEmptyToken(t *testing.T) {
	for _, token := range []string{"", "   "} {
		for _, inFile := range []bool{false, true} {
			rec := &recorder{}
			w, err := webhook.New(eventSource(t), webhook.Options{Send: rec.send, Secrets: secretsWith(t, token, inFile)})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(w.Handler())
			for _, auth := range []string{"Bearer ", "Bearer", "Bearer    ", "Bearer " + token} {
				if code, msg := raw(t, srv.URL, "Authorization: "+auth); code == 200 {
					t.Errorf("secret %q (file %v): %q over HTTP: %d %q", token, inFile, auth, code, msg)
				}
				req := httptest.NewRequest("POST", "/secured", strings.NewReader("{}"))
				req.Header.Set("Content-Type", "application/json")
				req.Header["Authorization"] = []string{auth}
				rr := httptest.NewRecorder()
				w.Handler().ServeHTTP(rr, req)
				if rr.Code == 200 {
					t.Errorf("secret %q (file %v): %q to the handler: %d %q", token, inFile, auth, rr.Code, rr.Body)
				}
			}
			srv.Close()
			if len(rec.events()) != 0 {
				t.Errorf("secret %q: events were sent", token)
			}
		}
	}
}

// With a good secret, an empty bearer token is refused as a malformed
// header, and the right token still passes.
func TestEmptyBearerTokenIsRefused(t *testing.T) {
	rec, url := serveRecorded(t, secretsWith(t, "s3cret", false))
	for _, auth := range []string{"Authorization: Bearer ", "Authorization: Bearer"} {
		if code, msg := raw(t, url, auth); code != http.StatusUnauthorized {
			t.Errorf("%q: %d %q", auth, code, msg)
		}
	}
	if code, msg := raw(t, url, "Authorization: Bearer s3cret"); code != 200 {
		t.Errorf("the right token: %d %q", code, msg)
	}
	if n := len(rec.events()); n != 1 {
		t.Errorf("sent %d, want 1", n)
	}
}

// raw posts {} to /secured with one header line written as is, on a plain
// TCP connection, so that the client does not tidy the header.
func raw(t *testing.T, url, headerLine string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "POST /secured HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n" + headerLine + "\r\n\r\n{}"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := new(strings.Builder)
	_, _ = io.Copy(b, resp.Body)
	return resp.StatusCode, b.String()
}
