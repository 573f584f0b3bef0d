package broker_test

// Helpers for the conformance suite in conformance_test.go: a broker per
// test in t.TempDir(), recording subscribers on loopback that answer from a
// script, a raw HTTP producer (so that malformed requests are possible),
// Trigger/Broker/DeliverySpec builders and waiting helpers.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/zeroflow-dev/zeroflow/broker"
)

const (
	// waitDeadline bounds every positive wait.
	waitDeadline = 5 * time.Second
	// pollEvery is how often waits look again.
	pollEvery = 10 * time.Millisecond
	// settlePeriod is how long a negative assertion watches for a delivery
	// that must not happen, after the last expected one.
	settlePeriod = 300 * time.Millisecond

	testNS     = "ns"
	testBroker = "default"
)

// TestMain raises the default test parallelism. The conformance cases spend
// their time waiting (backoff delays, settle periods) on loopback, not on
// CPU, and the default -parallel is GOMAXPROCS (2 on a 2-core machine). An
// explicit -parallel on the command line wins.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", "32")
	}
	os.Exit(m.Run())
}

// ---------------------------------------------------------------------------
// Broker harness

type harness struct {
	b   *broker.Broker
	reg *prometheus.Registry
}

// startBroker starts a broker with its store in t.TempDir(); it is closed
// when the test ends. Start recorders before the broker, so that the broker
// (and its deliveries in flight) stop before they do.
func startBroker(t *testing.T, opts ...func(*broker.Options)) *harness {
	t.Helper()
	reg := prometheus.NewRegistry()
	o := broker.Options{DataDir: t.TempDir(), Registerer: reg}
	for _, f := range opts {
		f(&o)
	}
	b, err := broker.Start(context.Background(), o)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close broker: %v", err)
		}
	})
	return &harness{b: b, reg: reg}
}

func withAttemptTimeout(d time.Duration) func(*broker.Options) {
	return func(o *broker.Options) { o.AttemptTimeout = d }
}

func withMaxEventBytes(n int64) func(*broker.Options) {
	return func(o *broker.Options) { o.MaxEventBytes = n }
}

// setup starts a broker serving ns/default (with brokerDelivery) and the
// triggers.
func setup(t *testing.T, brokerDelivery *eventingduckv1.DeliverySpec, triggers ...eventingv1.Trigger) *harness {
	t.Helper()
	h := startBroker(t)
	h.mustApply(t, []eventingv1.Broker{kbroker(testBroker, brokerDelivery)}, triggers...)
	return h
}

func (h *harness) apply(brokers []eventingv1.Broker, triggers ...eventingv1.Trigger) error {
	return h.b.Apply(context.Background(), broker.Config{Brokers: brokers, Triggers: triggers})
}

func (h *harness) mustApply(t *testing.T, brokers []eventingv1.Broker, triggers ...eventingv1.Trigger) {
	t.Helper()
	if err := h.apply(brokers, triggers...); err != nil {
		t.Fatalf("apply: %v", err)
	}
}

// ingress is the address of ns/default.
func (h *harness) ingress() string { return h.b.Address(testNS, testBroker) }

// counter sums a counter of the broker's registry over the series whose
// label trigger is trigger.
func (h *harness) counter(t *testing.T, name, trigger string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "trigger" && lp.GetValue() == trigger {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// ---------------------------------------------------------------------------
// Broker, Trigger and DeliverySpec builders

func kbroker(name string, d *eventingduckv1.DeliverySpec) eventingv1.Broker {
	return eventingv1.Broker{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name},
		Spec:       eventingv1.BrokerSpec{Delivery: d},
	}
}

func mustURL(s string) *apis.URL {
	u, err := apis.ParseURL(s)
	if err != nil {
		panic(err)
	}
	return u
}

type trigOpt func(*eventingv1.Trigger)

// trigger is a Trigger of ns/default named name delivering to subscriber.
func trigger(name, subscriber string, opts ...trigOpt) eventingv1.Trigger {
	tr := eventingv1.Trigger{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name},
		Spec: eventingv1.TriggerSpec{
			Broker:     testBroker,
			Subscriber: duckv1.Destination{URI: mustURL(subscriber)},
		},
	}
	for _, o := range opts {
		o(&tr)
	}
	return tr
}

// attrs sets the legacy filter.attributes from key, value pairs.
func attrs(kv ...string) trigOpt {
	return func(t *eventingv1.Trigger) {
		t.Spec.Filter = &eventingv1.TriggerFilter{Attributes: pairs(kv)}
	}
}

func attrMap(m map[string]string) trigOpt {
	return func(t *eventingv1.Trigger) {
		t.Spec.Filter = &eventingv1.TriggerFilter{Attributes: m}
	}
}

func filters(fs ...eventingv1.SubscriptionsAPIFilter) trigOpt {
	return func(t *eventingv1.Trigger) { t.Spec.Filters = fs }
}

func withDelivery(d *eventingduckv1.DeliverySpec) trigOpt {
	return func(t *eventingv1.Trigger) { t.Spec.Delivery = d }
}

func onBroker(name string) trigOpt {
	return func(t *eventingv1.Trigger) { t.Spec.Broker = name }
}

func pairs(kv []string) map[string]string {
	if len(kv)%2 != 0 {
		panic("pairs: odd number of arguments")
	}
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

type filter = eventingv1.SubscriptionsAPIFilter

func exact(kv ...string) filter  { return filter{Exact: pairs(kv)} }
func prefix(kv ...string) filter { return filter{Prefix: pairs(kv)} }
func suffix(kv ...string) filter { return filter{Suffix: pairs(kv)} }
func cesql(expr string) filter   { return filter{CESQL: expr} }

// allOf and anyOf always set a list, empty when given nothing, as YAML's
// `all: []` does; a nil list would be an empty filter object instead.
func allOf(fs ...filter) filter { return filter{All: append([]filter{}, fs...)} }
func anyOf(fs ...filter) filter { return filter{Any: append([]filter{}, fs...)} }
func not(f filter) filter       { return filter{Not: &f} }

type dopt func(*eventingduckv1.DeliverySpec)

func delivery(opts ...dopt) *eventingduckv1.DeliverySpec {
	d := &eventingduckv1.DeliverySpec{}
	for _, o := range opts {
		o(d)
	}
	return d
}

func retry(n int32) dopt { return func(d *eventingduckv1.DeliverySpec) { d.Retry = &n } }

func linear(delay string) dopt {
	return func(d *eventingduckv1.DeliverySpec) {
		p := eventingduckv1.BackoffPolicyLinear
		d.BackoffPolicy, d.BackoffDelay = &p, &delay
	}
}

func exponential(delay string) dopt {
	return func(d *eventingduckv1.DeliverySpec) {
		p := eventingduckv1.BackoffPolicyExponential
		d.BackoffPolicy, d.BackoffDelay = &p, &delay
	}
}

func backoffPolicyOnly(p eventingduckv1.BackoffPolicyType) dopt {
	return func(d *eventingduckv1.DeliverySpec) { d.BackoffPolicy = &p }
}

func backoffDelayOnly(delay string) dopt {
	return func(d *eventingduckv1.DeliverySpec) { d.BackoffDelay = &delay }
}

func timeout(iso string) dopt { return func(d *eventingduckv1.DeliverySpec) { d.Timeout = &iso } }

func retryAfterMax(iso string) dopt {
	return func(d *eventingduckv1.DeliverySpec) { d.RetryAfterMax = &iso }
}

func format(f eventingduckv1.FormatType) dopt {
	return func(d *eventingduckv1.DeliverySpec) { d.Format = &f }
}

func dls(uri string) dopt {
	return func(d *eventingduckv1.DeliverySpec) {
		d.DeadLetterSink = &duckv1.Destination{URI: mustURL(uri)}
	}
}

// ---------------------------------------------------------------------------
// Events as a producer sends them

// ce is an outbound CloudEvent, written by hand so that it can also be
// written wrongly. Empty attributes are left out.
type ce struct {
	specversion     string
	id, typ, source string
	subject         string
	time            string
	dataschema      string // schemaurl for 0.3
	contentType     string
	ext             map[string]string
	data            []byte
	// header holds more raw request headers.
	header http.Header
	// raw, when set, is sent as a structured-mode body instead (see send).
	raw string
}

// fullEvent is sdk-go's test.FullEvent with the given id.
func fullEvent(id string) ce {
	return ce{
		specversion: "1.0", id: id, typ: "com.example.FullEvent", source: "http://example.com/source",
		subject: "topic", time: "2020-03-21T12:34:56.78Z", dataschema: "http://example.com/schema",
		contentType: "text/json", data: []byte(`"hello"`),
		ext: map[string]string{
			"exbool": "true", "exint": "42", "exstring": "exstring", "exbinary": "AAECAw==",
			"exurl": "http://example.com/source", "extime": "2020-03-21T12:34:56.78Z",
		},
	}
}

// minEvent is sdk-go's test.MinEvent with the given id and type.
func minEvent(id, typ string) ce {
	return ce{specversion: "1.0", id: id, typ: typ, source: "http://example.com/source"}
}

// with returns a copy changed by f (maps are copied first).
func (e ce) with(f func(*ce)) ce {
	e.ext = maps(e.ext)
	e.header = e.header.Clone()
	f(&e)
	return e
}

func (e ce) withExt(kv ...string) ce {
	return e.with(func(e *ce) {
		if e.ext == nil {
			e.ext = map[string]string{}
		}
		for k, v := range pairs(kv) {
			e.ext[k] = v
		}
	})
}

func (e ce) withHeader(kv ...string) ce {
	return e.with(func(e *ce) {
		if e.header == nil {
			e.header = http.Header{}
		}
		for k, v := range pairs(kv) {
			e.header.Add(k, v)
		}
	})
}

func maps(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// binary is the event in binary content mode.
func (e ce) binary() (http.Header, []byte) {
	h := http.Header{}
	set := func(k, v string) {
		if v != "" {
			h.Set(k, v)
		}
	}
	set("Ce-Specversion", e.specversion)
	set("Ce-Id", e.id)
	set("Ce-Type", e.typ)
	set("Ce-Source", e.source)
	set("Ce-Subject", e.subject)
	set("Ce-Time", e.time)
	if e.specversion == "0.3" {
		set("Ce-Schemaurl", e.dataschema)
	} else {
		set("Ce-Dataschema", e.dataschema)
	}
	for k, v := range e.ext {
		h.Set("Ce-"+k, v)
	}
	set("Content-Type", e.contentType)
	for k, vs := range e.header {
		h[k] = vs
	}
	return h, e.data
}

// structured is the event in structured content mode (JSON format).
func (e ce) structured() (http.Header, []byte) {
	h := http.Header{"Content-Type": {"application/cloudevents+json"}}
	for k, vs := range e.header {
		h[k] = vs
	}
	if e.raw != "" {
		return h, []byte(e.raw)
	}
	m := map[string]any{}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("specversion", e.specversion)
	put("id", e.id)
	put("type", e.typ)
	put("source", e.source)
	put("subject", e.subject)
	put("time", e.time)
	if e.specversion == "0.3" {
		put("schemaurl", e.dataschema)
	} else {
		put("dataschema", e.dataschema)
	}
	put("datacontenttype", e.contentType)
	for k, v := range e.ext {
		m[k] = v
	}
	if e.data != nil {
		switch {
		case isJSONType(e.contentType):
			m["data"] = json.RawMessage(e.data)
		case strings.HasPrefix(e.contentType, "text/"):
			m["data"] = string(e.data)
		default:
			m["data_base64"] = e.data // []byte marshals as base64
		}
	}
	body, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return h, body
}

func isJSONType(ct string) bool {
	mt, _, _ := mime.ParseMediaType(ct)
	return ct == "" || mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// ---------------------------------------------------------------------------
// Producer: raw HTTP requests

var producer = &http.Client{Timeout: 10 * time.Second}

type result struct {
	status int
	header http.Header
	body   string
}

// send makes one request with exactly these headers and body.
func send(t *testing.T, method, url string, header http.Header, body []byte) result {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := producer.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (h *harness) postBinary(t *testing.T, e ce) result {
	t.Helper()
	hdr, body := e.binary()
	return send(t, http.MethodPost, h.ingress(), hdr, body)
}

func (h *harness) postStructured(t *testing.T, e ce) result {
	t.Helper()
	hdr, body := e.structured()
	return send(t, http.MethodPost, h.ingress(), hdr, body)
}

// post sends e in structured mode when it has a raw body, else binary.
func (h *harness) post(t *testing.T, e ce) result {
	t.Helper()
	if e.raw != "" {
		return h.postStructured(t, e)
	}
	return h.postBinary(t, e)
}

// mustPost posts e and requires 202.
func (h *harness) mustPost(t *testing.T, e ce) {
	t.Helper()
	if r := h.post(t, e); r.status != http.StatusAccepted {
		t.Fatalf("post event %q: status %d (%s), want 202", e.id, r.status, strings.TrimSpace(r.body))
	}
}

func expectStatus(t *testing.T, what string, got result, want int) {
	t.Helper()
	if got.status != want {
		t.Errorf("%s: status %d (%s), want %d", what, got.status, strings.TrimSpace(got.body), want)
	}
}

// ---------------------------------------------------------------------------
// Recording subscribers

// response is one scripted answer of a recorder.
type response struct {
	status int // 0: 200 with a reply, else 202
	header http.Header
	body   []byte
	delay  time.Duration // sleep first (cut short when the client gives up)
	// closeConn hijacks the connection and closes it without answering.
	closeConn bool
	// reply, when set, is sent as a CloudEvent (binary, or structured).
	reply      *ce
	structured bool
}

// script chooses the answer to the n-th request (0-based).
type script func(n int, req *recorded) response

func always(r response) script { return func(int, *recorded) response { return r } }

func status(code int) script { return always(response{status: code}) }

// sequence answers rs in order and repeats the last one.
func sequence(rs ...response) script {
	return func(n int, _ *recorded) response { return rs[min(n, len(rs)-1)] }
}

// dropFirstN answers code to the first n requests, then 202 (eventshub's
// DropFirstN).
func dropFirstN(n, code int) script {
	return func(i int, _ *recorded) response {
		if i < n {
			return response{status: code}
		}
		return response{status: http.StatusAccepted}
	}
}

// recorded is one request a recorder received.
type recorded struct {
	method string
	path   string
	header http.Header
	body   []byte
	at     time.Time
	// event is the request decoded as a CloudEvent; nil if it is not one.
	event *event.Event
	// status is what the recorder answered (0 for a closed connection).
	status int
}

// ext is an extension of the received event in its canonical string form.
func (r *recorded) ext(name string) (string, bool) {
	if r.event == nil {
		return "", false
	}
	v, ok := r.event.Extensions()[name]
	if !ok {
		return "", false
	}
	s, err := types.Format(v)
	if err != nil {
		return fmt.Sprint(v), true
	}
	return s, true
}

func (r *recorded) id() string {
	if r.event == nil {
		return "<not a CloudEvent>"
	}
	return r.event.ID()
}

type recorder struct {
	URL    string
	srv    *httptest.Server
	script script

	mu   sync.Mutex
	reqs []*recorded
}

// newRecorder starts a subscriber on 127.0.0.1 answering from s (nil: 202
// to everything). Its URL has the path "/".
func newRecorder(t *testing.T, s script) *recorder { return newRecorderAt(t, "/", s) }

func newRecorderAt(t *testing.T, path string, s script) *recorder {
	t.Helper()
	if s == nil {
		s = status(http.StatusAccepted)
	}
	r := &recorder{script: s}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL + path
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	rec := &recorded{method: req.Method, path: req.URL.Path, header: req.Header.Clone(), body: body, at: time.Now()}
	if ev, err := binding.ToEvent(context.Background(), cehttp.NewMessage(req.Header.Clone(), io.NopCloser(bytes.NewReader(body)))); err == nil {
		rec.event = ev
	}
	r.mu.Lock()
	resp := r.script(len(r.reqs), rec)
	code := resp.status
	if code == 0 {
		code = http.StatusAccepted
		if resp.reply != nil {
			code = http.StatusOK
		}
	}
	if !resp.closeConn {
		rec.status = code
	}
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()

	if resp.delay > 0 {
		select {
		case <-time.After(resp.delay):
		case <-req.Context().Done():
			return
		}
	}
	if resp.closeConn {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				_ = c.Close()
			}
		}
		return
	}
	body = resp.body
	if resp.reply != nil {
		var hdr http.Header
		if resp.structured {
			hdr, body = resp.reply.structured()
		} else {
			hdr, body = resp.reply.binary()
		}
		for k, vs := range hdr {
			w.Header()[k] = vs
		}
	}
	for k, vs := range resp.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

func (r *recorder) requests() []*recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// ids are the event ids received, sorted (one per request).
func (r *recorder) ids() []string {
	var ids []string
	for _, q := range r.requests() {
		ids = append(ids, q.id())
	}
	sort.Strings(ids)
	return ids
}

// waitCount waits until r has at least n requests.
func (r *recorder) waitCount(t *testing.T, n int) {
	t.Helper()
	r.waitCountWithin(t, n, waitDeadline)
}

func (r *recorder) waitCountWithin(t *testing.T, n int, d time.Duration) {
	t.Helper()
	waitUntilWithin(t, d, fmt.Sprintf("%d requests at %s", n, r.URL), func() bool { return r.count() >= n })
}

// assertCount checks the number of requests now; call it after settle.
func (r *recorder) assertCount(t *testing.T, what string, n int) bool {
	t.Helper()
	if got := r.count(); got != n {
		t.Errorf("%s: %d requests, want exactly %d (ids %v)", what, got, n, r.ids())
		return false
	}
	return true
}

// expectExactly waits for n requests, lets the settle period pass and
// checks that no more came.
func (r *recorder) expectExactly(t *testing.T, what string, n int) []*recorded {
	t.Helper()
	r.waitCount(t, n)
	settle()
	r.assertCount(t, what, n)
	return r.requests()
}

// expectIDs checks the multiset of received ids now; call it after settle.
func (r *recorder) expectIDs(t *testing.T, what string, want ...string) {
	t.Helper()
	want = slices.Clone(want)
	sort.Strings(want)
	if got := r.ids(); !slices.Equal(got, want) {
		t.Errorf("%s: received ids %v, want %v", what, got, want)
	}
}

// closedURL is an http URL on 127.0.0.1 where nothing listens (connection
// refused). The port is taken below the kernel's ephemeral range, which
// ":0" listeners (every recorder and broker of this suite) never get, so
// that no other test can start listening on it later.
func closedURL(t *testing.T, path string) string {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	if low > 11024 {
		for range 200 {
			port := 10000 + rand.IntN(low-11000)
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				continue
			}
			if err := l.Close(); err != nil {
				t.Fatalf("close listener: %v", err)
			}
			return fmt.Sprintf("http://127.0.0.1:%d%s", port, path)
		}
	}
	t.Fatalf("no free port below the ephemeral range (which starts at %d)", low)
	return ""
}

// ---------------------------------------------------------------------------
// Waiting

func waitUntilWithin(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(pollEvery)
	}
}

// settle lets the settle period pass before negative assertions.
func settle() { time.Sleep(settlePeriod) }

// gaps are the times between consecutive requests.
func gaps(reqs []*recorded) []time.Duration {
	var g []time.Duration
	for i := 1; i < len(reqs); i++ {
		g = append(g, reqs[i].at.Sub(reqs[i-1].at))
	}
	return g
}

// expectGaps checks each gap against [min, max].
func expectGaps(t *testing.T, what string, reqs []*recorded, bounds ...[2]time.Duration) {
	t.Helper()
	g := gaps(reqs)
	if len(g) != len(bounds) {
		t.Fatalf("%s: %d gaps %v, want %d", what, len(g), g, len(bounds))
	}
	for i, b := range bounds {
		if g[i] < b[0] || g[i] > b[1] {
			t.Errorf("%s: gap %d before retry %d is %v, want within [%v, %v] (all gaps %v)", what, i+1, i+1, g[i].Round(time.Millisecond), b[0], b[1], round(g))
		}
	}
}

func round(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// matrix builds a routing expectation: cols are recorder names, each row is
// "<event id> <one mark per column>", where x means exactly one delivery and
// - none.
func matrix(cols []string, rows ...string) map[string][]string {
	want := map[string][]string{}
	for _, c := range cols {
		want[c] = nil
	}
	for _, row := range rows {
		id, marks, ok := strings.Cut(row, " ")
		marks = strings.ReplaceAll(marks, " ", "")
		if !ok || len(marks) != len(cols) {
			panic("matrix row " + row)
		}
		for i, m := range marks {
			if m == 'x' {
				want[cols[i]] = append(want[cols[i]], id)
			}
		}
	}
	return want
}
