package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/broker"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/functions/webhook"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

const source = `
apiVersion: zeroflow.dev/v1alpha1
kind: EventSource
metadata: {name: workflow-a-webhook, namespace: default}
spec:
  webhook:
    workflowA:
      port: "12000"
      endpoint: /workflow-a
      method: POST
      metadata: {team: data}
    secured:
      port: "12000"
      endpoint: /secured
      method: POST
      authSecret: {name: webhook-auth, key: token}
    small:
      port: "12001"
      endpoint: /small
      method: POST
      maxPayloadSize: 64
    query:
      port: "12001"
      endpoint: /query
      method: GET
    filtered:
      port: "12001"
      endpoint: /filtered
      method: POST
      filter: {expression: 'body.kind == "keep"'}
`

// fixture is a webhook in front of the real broker, with a subscriber that
// records what the broker delivers.
type fixture struct {
	url  string
	got  chan event.Event
	hook *webhook.Webhook
}

func setup(t *testing.T, sinkOverride string) *fixture {
	t.Helper()
	var es v1alpha1.EventSource
	if err := yaml.UnmarshalStrict([]byte(source), &es); err != nil {
		t.Fatal(err)
	}
	if errs := v1alpha1.ValidateEventSource(&es); len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	f := &fixture{got: make(chan event.Event, 100)}
	sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := binding.ToEvent(r.Context(), cehttp.NewMessageFromHttpRequest(r))
		if err == nil {
			f.got <- *e
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(sub.Close)
	b, err := broker.Start(context.Background(), broker.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	u, _ := apis.ParseURL(sub.URL)
	err = b.Apply(context.Background(), broker.Config{
		Brokers: []eventingv1.Broker{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "default"}}},
		Triggers: []eventingv1.Trigger{{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "all"},
			Spec: eventingv1.TriggerSpec{Broker: "default", Subscriber: duckv1.Destination{URI: u}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sink := b.Address("default", "default")
	if sinkOverride != "" {
		sink = sinkOverride
	}
	sender := sdk.NewSender(sink)
	env := map[string]string{secrets.EnvName(v1alpha1.SecretKeySelector{Name: "webhook-auth", Key: "token"}): "s3cret"}
	f.hook, err = webhook.New(&es, webhook.Options{Send: sender.Send, Secrets: secrets.Local{Getenv: func(k string) string { return env[k] }}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.hook.Handler())
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fixture) do(t *testing.T, method, path, contentType, body string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.url+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *fixture) next(t *testing.T) event.Event {
	t.Helper()
	select {
	case e := <-f.got:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event reached the broker's subscriber")
		return event.Event{}
	}
}

func (f *fixture) none(t *testing.T) {
	t.Helper()
	select {
	case e := <-f.got:
		t.Fatalf("unexpected event %s %s", e.Subject(), e.ID())
	case <-time.After(300 * time.Millisecond):
	}
}

func data(t *testing.T, e event.Event) webhook.Data {
	t.Helper()
	var d webhook.Data
	if err := json.Unmarshal(e.Data(), &d); err != nil {
		t.Fatalf("event data %s: %v", e.Data(), err)
	}
	return d
}

func TestJSONPostBecomesAnArgoShapedEvent(t *testing.T) {
	f := setup(t, "")
	code, msg := f.do(t, "POST", "/workflow-a", "application/json", `{"records": [1, 2], "run": "r-1"}`, "X-Request-Source", "k6", "Authorization", "Bearer leaked")
	if code != 200 || msg != "success" {
		t.Fatalf("%d %q", code, msg)
	}
	e := f.next(t)
	if e.Type() != "webhook" || e.Source() != "workflow-a-webhook" || e.Subject() != "workflowA" || e.DataContentType() != "application/json" || len(e.ID()) != 32 {
		t.Errorf("attributes: type %s source %s subject %s content %s id %q", e.Type(), e.Source(), e.Subject(), e.DataContentType(), e.ID())
	}
	d := data(t, e)
	if string(d.Body) != `{"records":[1,2],"run":"r-1"}` || d.Metadata["team"] != "data" || d.Header.Get("X-Request-Source") != "k6" {
		t.Errorf("data %+v", d)
	}
	if got := d.Header.Get("Authorization"); got != "*** Masked Auth Secret ***" {
		t.Errorf("Authorization reached the event: %q", got)
	}
}

func TestAuth(t *testing.T) {
	f := setup(t, "")
	for _, c := range []struct {
		header []string
		code   int
		msg    string
	}{
		{nil, 401, "Invalid Authorization Header"},
		{[]string{"Authorization", "Basic czNjcmV0"}, 401, "Invalid Authorization Header"},
		{[]string{"Authorization", "Bearer wrong"}, 401, "Invalid Auth token"},
		{[]string{"Authorization", "Bearer s3cret"}, 200, "success"},
	} {
		code, msg := f.do(t, "POST", "/secured", "application/json", `{}`, c.header...)
		if code != c.code || msg != c.msg {
			t.Errorf("%v: %d %q, want %d %q", c.header, code, msg, c.code, c.msg)
		}
	}
	if d := data(t, f.next(t)); d.Header.Get("Authorization") != "*** Masked Auth Secret ***" {
		t.Errorf("token in event: %v", d.Header)
	}
	f.none(t)
}

func TestBadRequests(t *testing.T) {
	f := setup(t, "")
	for _, c := range []struct {
		name, method, path, ctype, body string
		code                            int
		msg                             string
	}{
		{"malformed JSON", "POST", "/workflow-a", "application/json", `{"a":`, 400, "malformed JSON body: unexpected end of JSON input"},
		{"not JSON", "POST", "/workflow-a", "text/plain", `hello`, 400, "malformed JSON body: invalid character 'h'"},
		{"empty", "POST", "/workflow-a", "application/json", ``, 400, "empty body"},
		{"over maxPayloadSize", "POST", "/small", "application/json", `{"x":"` + strings.Repeat("a", 100) + `"}`, 413, "request body larger than 64 bytes"},
		{"form over maxPayloadSize", "POST", "/small", "application/x-www-form-urlencoded", "x=" + strings.Repeat("a", 100), 413, "request body larger than 64 bytes"},
		{"wrong method", "GET", "/workflow-a", "", ``, 405, "method GET is not allowed at /workflow-a: use POST"},
		{"unknown path", "POST", "/nope", "application/json", `{}`, 404, "no webhook at /nope"},
		{"malformed CloudEvent", "POST", "/workflow-a", "application/cloudevents+json", `{"specversion":"1.0"`, 400, "malformed CloudEvent"},
		{"invalid CloudEvent", "POST", "/workflow-a", "application/cloudevents+json", `{"specversion":"1.0","id":"1","type":"t"}`, 400, "invalid CloudEvent"},
	} {
		code, msg := f.do(t, c.method, c.path, c.ctype, c.body)
		if code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: %d %q, want %d %q", c.name, code, msg, c.code, c.msg)
		}
	}
	f.none(t)
	if code, msg := f.do(t, "GET", "/health", "", ""); code != 200 || msg != "OK" {
		t.Errorf("health: %d %q", code, msg)
	}
}

func TestQueryFormAndCloudEventBodies(t *testing.T) {
	f := setup(t, "")
	if code, _ := f.do(t, "GET", "/query?a=1&a=2&b=", "", ""); code != 200 {
		t.Fatalf("GET: %d", code)
	}
	if d := data(t, f.next(t)); string(d.Body) != `{"a":["1","2"],"b":[""]}` {
		t.Errorf("query body %s", d.Body)
	}
	// A charset parameter is fine (Argo sends it down the JSON path and fails).
	if code, _ := f.do(t, "POST", "/workflow-a", "application/x-www-form-urlencoded; charset=UTF-8", "a=1&b=2"); code != 200 {
		t.Fatalf("form: %d", code)
	}
	if d := data(t, f.next(t)); string(d.Body) != `{"a":["1"],"b":["2"]}` {
		t.Errorf("form body %s", d.Body)
	}
	code, _ := f.do(t, "POST", "/workflow-a", "application/json", `{"x":1}`,
		"Ce-Specversion", "1.0", "Ce-Id", "upstream-7", "Ce-Source", "/billing", "Ce-Type", "invoice.paid", "Ce-Tenant", "acme")
	if code != 200 {
		t.Fatalf("CloudEvent: %d", code)
	}
	e := f.next(t)
	if e.ID() != "upstream-7" || e.Source() != "/billing" || e.Type() != "invoice.paid" || e.Extensions()["tenant"] != "acme" || string(e.Data()) != `{"x":1}` {
		t.Errorf("the CloudEvent did not pass through unchanged: %v", e)
	}
	// Routing extensions are added so that sensor dependencies match it.
	if e.Extensions()["zfeventsource"] != "workflow-a-webhook" || e.Extensions()["zfevent"] != "workflowA" {
		t.Errorf("routing extensions: %v", e.Extensions())
	}
}

func TestFilterDropsButAnswersSuccess(t *testing.T) {
	f := setup(t, "")
	if code, msg := f.do(t, "POST", "/filtered", "application/json", `{"kind":"drop"}`); code != 200 || msg != "success" {
		t.Errorf("%d %q", code, msg)
	}
	f.none(t)
	f.do(t, "POST", "/filtered", "application/json", `{"kind":"keep"}`)
	if d := data(t, f.next(t)); !strings.Contains(string(d.Body), "keep") {
		t.Errorf("%s", d.Body)
	}
}

// The caller hears 200 only once the broker accepted the event; when the
// broker cannot take it, 503.
func TestBrokerDownAnswers503(t *testing.T) {
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	dead.Close()
	f := setup(t, dead.URL)
	code, msg := f.do(t, "POST", "/workflow-a", "application/json", `{}`)
	if code != 503 || !strings.Contains(msg, "not accepted by the broker") {
		t.Errorf("%d %q", code, msg)
	}
}

// A broker that refuses the event for good (413, 400) is passed on as
// such, without Retry-After: the sender's retry would meet the same
// refusal. One that may take it later (429, 503) is 503 with Retry-After.
func TestBrokerRefusalsAreNotTemporary(t *testing.T) {
	for _, tc := range []struct {
		broker, want int
		retryAfter   bool
	}{
		{http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge, false},
		{http.StatusBadRequest, http.StatusBadRequest, false},
		{http.StatusForbidden, http.StatusBadRequest, false},
		{http.StatusTooManyRequests, http.StatusServiceUnavailable, true},
		{http.StatusServiceUnavailable, http.StatusServiceUnavailable, true},
	} {
		refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "refused by the test", tc.broker)
		}))
		f := setup(t, refusing.URL)
		req, _ := http.NewRequest("POST", f.url+"/workflow-a", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		refusing.Close()
		if resp.StatusCode != tc.want || (resp.Header.Get("Retry-After") != "") != tc.retryAfter {
			t.Errorf("broker %d: webhook answered %d (Retry-After %q) %s; want %d, Retry-After %v", tc.broker, resp.StatusCode, resp.Header.Get("Retry-After"), body, tc.want, tc.retryAfter)
		}
	}
}

// Requests to one endpoint are handled side by side: with a sink that
// takes 300ms per event, 10 concurrent requests take about 300ms, not 3s.
func TestNoSerialBottleneckPerEndpoint(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer slow.Close()
	f := setup(t, slow.URL)
	start := time.Now()
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, _ := f.do(t, "POST", "/workflow-a", "application/json", `{}`); code != 200 {
				t.Errorf("status %d", code)
			}
		}()
	}
	wg.Wait()
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("10 concurrent requests took %v: they were handled one at a time", d)
	}
}

func TestPortsServeTheirOwnEvents(t *testing.T) {
	f := setup(t, "")
	ports := f.hook.PortHandlers()
	if len(ports) != 2 {
		t.Fatalf("ports %v", ports)
	}
	rec := httptest.NewRecorder()
	ports["12001"].ServeHTTP(rec, httptest.NewRequest("POST", "/workflow-a", strings.NewReader("{}")))
	if rec.Code != 404 {
		t.Errorf("an event of port 12000 answered on 12001: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	ports["12000"].ServeHTTP(rec, httptest.NewRequest("POST", "/workflow-a", strings.NewReader("{}")))
	if rec.Code != 200 {
		t.Errorf("port 12000: %d %s", rec.Code, rec.Body)
	}
}
